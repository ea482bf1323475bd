"""Shipped test kit: fakes of services Syncline cannot reach from a test (Google Sheets)."""
