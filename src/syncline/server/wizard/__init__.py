"""The "+ Create a new Sync" wizard and editing a saved sync with it."""
