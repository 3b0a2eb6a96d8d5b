"""Background loops: callbacks, recovery of unanswered messages, follow-ups."""
