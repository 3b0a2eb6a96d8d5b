"""Lifecycle stages: the policy, editing, stage history and stays, conversions, approvals."""
