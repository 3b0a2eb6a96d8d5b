"""The kinds of refusal the domain raises; the API maps each kind to one status code, once.

A domain package subclasses one of ``NotFound``, ``Conflict`` or ``Invalid`` for its own
errors. ``str(exc)`` stays the package's own message (the CLI and the logs print it);
``detail`` is the sentence an API caller reads, and is the message unless a kind or a
class says otherwise.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; ``detail`` says what to fix."""

    @property
    def detail(self) -> str:
        return str(self)


class NotFound(DomainError, LookupError):
    """Something the request names does not exist (HTTP 404).

    The message names the thing (``"stage 'stg_1'"``); the detail adds that it was not found.
    """

    @property
    def detail(self) -> str:
        return f"{self} not found in this workspace"


class Conflict(DomainError, ValueError):
    """The change clashes with what is stored: a taken name, a dependency (HTTP 409)."""


class Invalid(DomainError, ValueError):
    """The request's content is unacceptable (HTTP 422)."""
