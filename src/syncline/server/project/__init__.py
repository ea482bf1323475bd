"""The project as the server keeps it: tables, connections with sealed secrets, sync definitions."""
