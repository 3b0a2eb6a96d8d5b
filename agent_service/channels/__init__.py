"""Messaging platforms connected directly: WhatsApp Cloud API, Telegram, LINE and Chatwoot.

A connection (``connections``) holds a platform's credentials. Each platform's module reads
its webhook (signature, payload into ``InboundMessage``s) and turns a turn's response into the
platform's requests; ``sending`` runs those requests for the callback dispatcher, so a reply
goes through the same durable outbox, with the same retries, as any callback.
"""
