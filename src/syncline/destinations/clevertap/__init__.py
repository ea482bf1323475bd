"""CleverTap destination (filled in by the client engineer)."""
