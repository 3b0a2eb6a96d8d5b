"""Follow-ups: the plan, the steps and the sender."""
