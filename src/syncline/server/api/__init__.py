"""The REST API under ``/api``: one module per resource (tokens, connections, syncs, runs)."""
