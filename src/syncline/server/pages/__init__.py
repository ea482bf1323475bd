"""The dashboard's server-rendered pages: sign-in and home, connections, syncs, runs."""
