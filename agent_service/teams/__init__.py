"""Teams: business hours, availability, handoff guard, editing."""
