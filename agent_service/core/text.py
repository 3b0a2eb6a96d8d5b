"""Text both databases can store, for text the service did not receive through its API.

PostgreSQL's text (and JSON) cannot hold a NUL character, and neither database can encode a
lone UTF-16 surrogate as UTF-8. Requests carrying either are refused at the door
(api/input_guard.py); a model's reply cannot be refused, so what the model writes is made
storable where it enters the service (agent/chat_model.py), before any of it reaches a reply,
a tool's arguments or a log. A NUL is dropped (it carries nothing a reader could see); a lone
surrogate becomes U+FFFD, the replacement character, as any UTF-8 decoder would show it.
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _replace(found: re.Match[str]) -> str:
    return "" if found.group() == "\x00" else "\ufffd"


def storable(text: str) -> str:
    """``text`` without the characters a database cannot store."""
    return _UNSTORABLE.sub(_replace, text)


def storable_value(value: Any) -> Any:
    """``storable`` applied to every string (and mapping key) in nested lists and dicts."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_value(k): storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(storable_value(v) for v in value)
    return value
