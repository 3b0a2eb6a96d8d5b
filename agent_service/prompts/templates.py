"""Versioned prompts: the system prompt and the fixed phrases, with validation and rendering."""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from agent_service.core.errors import Invalid

SYSTEM_VARIABLES = frozenset(
    {
        "business_name",
        "business_description",
        "channel",
        "language_name",
        "ai_stages",
        "lost_stages",
        "protected_stages",
        "teams",
        "today",
        "contact_name",
        "current_stage",
        "missing_fields",
        "known_fields",
        "knowledge",
        "canary",
    }
)
PHRASE_VARIABLES = frozenset({"name", "business_name", "team", "hours"})
# Variables only some phrases get: the verified items a blocked reply is replaced with, the
# nearest knowledge topics offered when the planner is unsure, the phone number or e-mail a
# customer left for a call-back.
PHRASE_EXTRA_VARIABLES = {
    "closest_topics": frozenset({"topics"}),
    "verified_payment": frozenset({"accounts"}),
    "verified_phone": frozenset({"phones"}),
    "verified_link": frozenset({"links"}),
    "callback_noted": frozenset({"details"}),
}
REQUIRED_PHRASES = frozenset(
    {
        "greeting",
        "ready_to_book",
        "noted",
        "handoff",
        "qualified_handoff",
        "cannot_help",
        "fallback",
        "not_interested",
        "bought_elsewhere",
        "spam",
        "clarify",
        "team_closed_collect_contact",
        "team_closed_handoff",
        "follow_up",
        "follow_up_last",
    }
)
PROMPT_FILES = {"system": "system.md", "phrases": "phrases.yaml"}


class PromptError(Invalid):
    """A prompt body that cannot be used; the message names the problem."""


def template_variables(text: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:
        raise PromptError(f"malformed placeholder: {exc}") from exc


def validate(name: str, body: str) -> None:
    """Refuse an empty prompt or one that uses a variable the service does not provide."""
    if not body.strip():
        raise PromptError(f"prompt '{name}' is empty")
    if name == "system":
        _check_variables(name, template_variables(body), SYSTEM_VARIABLES)
    elif name == "phrases":
        phrases = _parse_phrases(body)
        missing = REQUIRED_PHRASES - phrases.keys()
        if missing:
            raise PromptError(f"prompt 'phrases' lacks: {', '.join(sorted(missing))}")
        for key, texts in phrases.items():
            if "en" not in texts:
                raise PromptError(f"phrase '{key}' needs at least an 'en' text")
            allowed = PHRASE_VARIABLES | PHRASE_EXTRA_VARIABLES.get(key, frozenset())
            for text in texts.values():
                _check_variables(f"phrases.{key}", template_variables(text), allowed)
    else:
        raise PromptError(f"unknown prompt '{name}'; prompts are: {', '.join(PROMPT_FILES)}")


def _check_variables(where: str, used: set[str], allowed: frozenset[str]) -> None:
    unknown = sorted(v for v in used if v not in allowed)
    if "" in used or unknown:
        raise PromptError(
            f"prompt '{where}' uses unknown variable(s) {unknown or ['{}']}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


@lru_cache(maxsize=64)
def _parse_phrases(body: str) -> dict[str, dict[str, str]]:
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise PromptError(f"prompt 'phrases' is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and all(isinstance(t, str) for t in v.values()) for v in data.values()
    ):
        raise PromptError("prompt 'phrases' must map each phrase to {language: text}")
    return data


@lru_cache(maxsize=1)
def _shipped_phrases() -> dict[str, dict[str, str]]:
    path = Path(__file__).resolve().parents[1] / "prompts" / PROMPT_FILES["phrases"]
    try:
        return _parse_phrases(path.read_text("utf-8"))
    except (OSError, PromptError):
        return {}


def default_bodies(prompts_dir: Path) -> dict[str, str]:
    """The default prompt bodies shipped in ``prompts/``."""
    return {name: (prompts_dir / file).read_text("utf-8") for name, file in PROMPT_FILES.items()}


class PromptSet(BaseModel):
    """The prompt versions a turn uses."""

    system: str
    phrases_body: str
    versions: dict[str, int]

    @property
    def version_label(self) -> str:
        """How decisions record the prompts they were made with, e.g. ``system@3+phrases@1``."""
        return "+".join(f"{name}@{v}" for name, v in sorted(self.versions.items()))

    def phrase(self, key: str, language: str, **values: Any) -> str:
        # A workspace whose phrases predate a newer key falls back to the shipped wording.
        texts = _parse_phrases(self.phrases_body).get(key) or _shipped_phrases().get(key, {})
        text = texts.get(language) or texts.get("en") or ""
        values.setdefault("name", "")
        return text.format_map(values)

    def render_system(self, **values: Any) -> str:
        return self.system.format_map(values)
