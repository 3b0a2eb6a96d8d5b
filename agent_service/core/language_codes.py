"""The languages the service answers in, and the check every language an admin types passes.

Kept apart from core/language.py (the detector) so schemas can validate a code without loading
lingua's models. A code is an ISO 639-1 code or a BCP 47 tag whose language is one of them
(``vi-VN`` is stored as ``vi``); anything else is refused with the list to choose from, so a
typo such as ``vn`` or ``klingon`` is caught at the door instead of never being retrieved.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

SUPPORTED: dict[str, str] = {"en": "English", "vi": "Vietnamese", "th": "Thai", "ms": "Malay"}
CHOICES = ", ".join(f"{code} ({name})" for code, name in SUPPORTED.items())


def supported_language(value: str) -> str:
    """``value`` as a supported code (lower case, region dropped); ValueError naming the choices."""
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    if code not in SUPPORTED:
        raise ValueError(f"language {value!r} is not supported: use one of {CHOICES}")
    return code


LanguageCode = Annotated[str, AfterValidator(supported_language)]
