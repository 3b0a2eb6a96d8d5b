"""HMAC-SHA256 over the raw body, in the `X-Hub-Signature-256` convention: `sha256=<hex>`."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Signature-256"


def sign(secret: str, body: bytes) -> str:
    """The header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` signs exactly these bytes; compared in constant time."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
