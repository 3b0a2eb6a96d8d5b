"""Work that must happen only once a transaction committed: a metric of a row written inside a
transaction that may still roll back (a stage change is counted when it is true, not when it
is added)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "agent_service.after_commit"


def after_commit(session: AsyncSession | Session, work: Callable[[], None]) -> None:
    """Run ``work`` when the session's current transaction commits; drop it on a rollback."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    _install()
    sync.info.setdefault(_KEY, []).append(work)


def _committed(session: Session) -> None:
    for work in session.info.pop(_KEY, ()):
        work()


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: whatever is left rolled back
        session.info.pop(_KEY, None)


_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    hooks: list[tuple[str, Callable[..., Any]]] = [
        ("after_commit", _committed),
        ("after_transaction_end", _ended),
    ]
    for name, hook in hooks:
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)
    _installed = True
