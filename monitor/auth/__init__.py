"""Users, roles, passwords, sign-in sessions and API tokens (no web code)."""
