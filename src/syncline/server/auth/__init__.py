"""Who may use the server: users, passwords, API tokens, CSRF, sign-in throttling."""
