"""The agent-service command."""
