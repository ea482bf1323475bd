"""The state store's tests run on the default SQLite file and on the local PostgreSQL
(the ``state_url`` fixture of ``tests/conftest.py``)."""
