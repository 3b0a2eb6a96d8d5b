"""Delivery to and from the messaging layer: signatures, callbacks, start-up recovery."""
