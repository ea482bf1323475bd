"""TTL overrides of a run's lease and upload slots, read from the environment."""

from __future__ import annotations

import pytest

from syncline.config.load import lease_settings
from syncline.errors import ConfigError


def test_lease_settings_read_the_environment() -> None:
    assert lease_settings({}) == {}
    env = {"SYNCLINE_LEASE_TTL_S": "120", "SYNCLINE_UPLOAD_SLOT_TTL_S": "2.5"}
    assert lease_settings(env) == {"lease_ttl_s": 120.0, "slot_ttl_s": 2.5}


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_bad_ttl_is_a_config_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="SYNCLINE_LEASE_TTL_S"):
        lease_settings({"SYNCLINE_LEASE_TTL_S": value})
