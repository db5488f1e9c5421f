"""Who may do what: roles, signed session cookies, API keys."""
