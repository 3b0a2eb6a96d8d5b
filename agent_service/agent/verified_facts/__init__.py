"""Verified facts: the reply guard and its editing."""
