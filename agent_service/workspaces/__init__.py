"""Workspaces: configuration, set-up, API keys and the audit log."""
