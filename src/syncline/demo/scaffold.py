"""``syncline init``: a ready-to-run sample project (config, warehouse, .gitignore)."""

from __future__ import annotations

from pathlib import Path

from syncline.config.load import FILENAME
from syncline.demo.warehouse import build_sample_warehouse
from syncline.errors import ConfigError

__all__ = ["SAMPLE_CONFIG", "init_project"]

SAMPLE_CONFIG = """\
# Syncline project: sources → syncs → destinations. Secrets are ${ENV_VAR} references.
version: 1

sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb          # relative to this file

destinations:
  clevertap_prod:
    type: clevertap
    account_id: ${CLEVERTAP_ACCOUNT_ID}
    passcode: ${CLEVERTAP_PASSCODE}
    region: ${CLEVERTAP_REGION:-eu1}
    # empty means "the region's own host"; point it at the sandbox to rehearse safely,
    # e.g. CLEVERTAP_ENDPOINT=http://127.0.0.1:8899
    endpoint: ${CLEVERTAP_ENDPOINT:-}

syncs:
  users_to_clevertap:
    source: warehouse
    model: {table: main.users}
    destination: clevertap_prod
    object: profile                 # behavior: update_or_create
    sync_key: user_id               # sent as the profile's identity
    phone_region: IN                # national numbers ("98123 45678") are Indian: sent in E.164
    on_removed: delete              # a user gone from the table is deleted in CleverTap
    mappings:
      # style 1: explicit columns with types
      columns:
        - {from: full_name, to: Name}
        - {from: email, to: Email}
        - {from: phone, to: Phone}
        - {from: gender, to: Gender}
        - {from: birthday, to: DOB, type: date}
        - {from: plan, to: Plan, type: string}
        - {from: country, to: Country}
        - {from: signup_at, to: Signed Up, type: date}
        - {from: lifetime_value, to: Lifetime Value, type: number}
        - {from: tags, to: Tags}      # a list: a multi-value property, exactly these values
      # style 2: map every column (new columns included), standard names matched:
      # sync_all: true
      # exclude: [country]

  orders_to_clevertap:
    source: warehouse
    model: {table: main.orders}
    destination: clevertap_prod
    object: event                   # behavior: send (one event per new order_id)
    sync_key: order_id
    identity_column: user_id
    event_name: Charged
    timestamp_column: ordered_at
    items_column: items
    mappings:
      columns:
        - {from: transaction_value, to: Transaction Value, type: number}
        - {from: currency, to: Currency}
        - {from: product_category, to: Product Category}
        - {from: discount_applied, to: Discount Applied, type: boolean}
"""


def init_project(dir: Path, *, users: int = 50_000) -> Path:
    """Write ``syncline.yml``, ``warehouse.duckdb`` and ``.gitignore`` into ``dir``."""
    dir.mkdir(parents=True, exist_ok=True)
    path = dir / FILENAME
    if path.exists():
        raise ConfigError(
            f"{path} already exists; choose an empty folder or remove it to start again"
        )
    build_sample_warehouse(dir / "warehouse.duckdb", users=users, orders=max(1, users * 2 // 5))
    gitignore = dir / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".syncline/\n", encoding="utf-8")
    path.write_text(SAMPLE_CONFIG, encoding="utf-8")
    return path
