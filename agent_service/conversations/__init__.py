"""Conversations: the inbox (messages, bursts, ordering), contact events, rate limits."""
