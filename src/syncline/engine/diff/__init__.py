"""Dialect-specific pieces of the diff, kept in one table so the algorithm is written once."""
