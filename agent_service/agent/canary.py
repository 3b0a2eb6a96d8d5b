"""The prompt canary: a per-workspace marker in the system prompt that must never be said.

A reply containing it means the model is leaking its instructions (OWASP LLM07); such a reply is
replaced by a safe phrase and the turn records the guardrail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from agent_service.core.config import Settings

# Without a configured secret each process draws its own: the canary only has to be unknown
# to the customer and the same within the process that renders and checks it.
_PROCESS_SECRET = secrets.token_hex(16)


def canary_for(settings: Settings, workspace_id: str) -> str:
    secret = (settings.canary_secret or _PROCESS_SECRET).encode()
    digest = hmac.new(secret, workspace_id.encode(), hashlib.sha256).hexdigest()
    return f"ref-{digest[:16]}"


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def leaks_canary(reply: str, canary: str) -> bool:
    """True when the reply contains the canary, even spaced out or re-punctuated."""
    return _squash(canary) in _squash(reply)
