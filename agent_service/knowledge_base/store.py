"""Knowledge entries: stored in the database, mirrored in the vector index.

The database is the source of truth; the index is derived. Every change runs the index step
inside the database transaction and undoes it if the commit fails, so a failed indexing leaves
no stored half entry and a failed commit no indexed ghost. An index that *answers* with an
error refuses the change (nothing is stored). An index that does not answer at all (down,
stalled past its timeout, or its circuit open) does not block the knowledge: the change is
stored, the workspace is marked as having its index behind, and ``catch_up_index`` (run by a
worker every ``index_sync_seconds``) sends the stored entries to the index once it answers.

A search asks the index under a deadline and a circuit breaker; when the index does not
answer, the entries are ranked from the signals stored with them in the database (the
question's dense vector, the sparse vectors, BM25), and the search's ``RetrievalTrace`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import String, Table, bindparam, cast, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.core.circuit_breaker import CircuitBreaker
from agent_service.core.errors import Conflict
from agent_service.core.ids import new_id
from agent_service.db.models import KnowledgeEntry, Workspace
from agent_service.knowledge_base.index import (
    Hit,
    IndexedEntry,
    IndexUnreachable,
    KnowledgeIndex,
    stamp,
)
from agent_service.knowledge_base.representations import (
    DENSE_TEXT,
    SPARSE_CHARS,
    EntryVectors,
    RepresentationEncoder,
    compute,
    parts_for,
    unpack,
)
from agent_service.knowledge_base.snapshot import (
    SIGNALS,
    SPARSE_SIGNALS,
    KnowledgeSnapshot,
    KnowledgeSnapshots,
    QuerySignals,
    build_snapshot,
)
from agent_service.schemas.retrieval import (
    SEVERITY,
    RetrievalInfo,
    RetrievalSource,
    RetrievalStatus,
)

log = logging.getLogger("agent_service.knowledge")
T = TypeVar("T")
_ENTRIES = typing.cast(Table, KnowledgeEntry.__table__)

# Runs inside the change's transaction (the audit record), before the commit.
BeforeCommit = Callable[[AsyncSession, list[KnowledgeEntry]], Awaitable[None]]
# Entries sent to the index per request when it catches up.
CATCH_UP_BATCH = 256


class IndexUnavailable(RuntimeError):
    """The vector index refused a change; nothing was stored."""


class ExternalIdTaken(Conflict):
    """Another entry of the workspace has this external id."""

    def __init__(self, external_id: str | None) -> None:
        super().__init__(
            f"another entry of this workspace has external_id '{external_id}': "
            "change that entry, or choose another external_id"
        )


@dataclass
class RetrievalTrace:
    """How a turn's searches went: the worst status of them, and where the entries came from."""

    status: RetrievalStatus = "ok"
    source: RetrievalSource = "index"
    detail: str | None = None

    def note(self, status: RetrievalStatus, detail: str) -> None:
        if SEVERITY.index(status) >= SEVERITY.index(self.status):
            self.status, self.detail = status, detail

    def answered_from(self, source: RetrievalSource) -> None:
        if self.source != "none":  # once nothing could be searched, the turn says so
            self.source = source

    @property
    def degraded(self) -> bool:
        return self.status != "ok"

    def info(self) -> RetrievalInfo:
        return RetrievalInfo(status=self.status, source=self.source, detail=self.detail)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EntryData:
    """What an admin or an import provides for one entry."""

    question: str
    answer: str
    language: str
    tags: Sequence[str] = ()
    valid_until: date | None = None
    external_id: str | None = None  # its id where it comes from; unique in the workspace


@dataclass
class Merged:
    """What one import batch did: entries created, updated, and found already as given."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    created: list[EntryData] = field(default_factory=list)
    updated: list[tuple[KnowledgeEntry, EntryData]] = field(default_factory=list)
    merged: Merged = field(default_factory=Merged)

    @property
    def texts(self) -> list[tuple[str, str]]:
        """The (question, answer) pairs whose representations the changes need."""
        reworded = [i for e, i in self.updated if (e.question, e.answer) != (i.question, i.answer)]
        return list(dict.fromkeys((i.question, i.answer) for i in [*self.created, *reworded]))


@dataclass(frozen=True)
class EntryFilter:
    """Which entries a listing shows."""

    language: str | None = None
    tag: str | None = None
    q: str | None = None


def _indexed(entry: KnowledgeEntry) -> IndexedEntry:
    return IndexedEntry(
        entry.id, entry.question, entry.answer, entry.language, entry.valid_until, entry.vectors
    )


def entry_snapshot(entry: KnowledgeEntry) -> dict[str, object]:
    """An entry's editable values, for the audit log."""
    return {
        "question": entry.question,
        "answer": entry.answer,
        "language": entry.language,
        "tags": list(entry.tags or []),
        "valid_until": entry.valid_until.isoformat() if entry.valid_until else None,
        "external_id": entry.external_id,
    }


def _same(entry: KnowledgeEntry, item: EntryData) -> bool:
    """Whether storing ``item`` over ``entry`` would change nothing."""
    return (
        entry.question == item.question
        and entry.answer == item.answer
        and entry.language == item.language
        and list(entry.tags or []) == list(item.tags)
        and entry.valid_until == item.valid_until
        and (item.external_id is None or entry.external_id == item.external_id)
    )


def _assign(entry: KnowledgeEntry, item: EntryData, now: datetime, vectors: bytes | None) -> None:
    entry.question, entry.answer, entry.language = item.question, item.answer, item.language
    entry.tags, entry.valid_until, entry.updated_at = list(item.tags), item.valid_until, now
    if item.external_id is not None:  # an import without one keeps the entry's own
        entry.external_id = item.external_id
    entry.vectors = vectors


class KnowledgeBase:
    """Create, change and search a workspace's knowledge; the database is the source of truth."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        index: KnowledgeIndex,
        encoder: RepresentationEncoder,
        signals: Sequence[str] = ("dense",),
        fusion: str = "zscore",
        rrf_k: int = 60,
        search_timeout: float = 3.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._sessions = sessions
        self.index = index
        self.encoder = encoder
        self.fusion, self.rrf_k = fusion, rrf_k
        self.snapshots = KnowledgeSnapshots()
        self.signals = tuple(signals)
        self._snapshot_lock = asyncio.Lock()  # one rebuild at a time; the others then reuse it
        # How long a search waits for the index, and the circuit that stops asking it while
        # it keeps failing (then searches rank from the database at once).
        self.search_timeout = search_timeout
        self.breaker = breaker or CircuitBreaker(2, timedelta(seconds=15), _utc_now)

    @property
    def signals(self) -> tuple[str, ...]:
        """The signals a search fuses (docs/retrieval.md); ("dense",) is Chroma alone."""
        return self._signals

    @signals.setter
    def signals(self, value: tuple[str, ...]) -> None:
        unknown = [s for s in value if s not in SIGNALS]
        if unknown or not value:
            raise ValueError(f"retrieval signals must be among {', '.join(SIGNALS)}")
        if not self.encoder.has_sparse:  # e.g. OpenAI embeddings: fuse what there is
            value = tuple(s for s in value if s not in SPARSE_SIGNALS) or ("dense",)
        self._signals = value
        # A snapshot holds the representations the signals read when it was taken: a signal
        # that reads another one takes the snapshots again (and computes what entries lack).
        self.snapshots = KnowledgeSnapshots()

    @property
    def _fused(self) -> bool:
        return self.signals != ("dense",)

    @property
    def fallback_signals(self) -> tuple[str, ...]:
        """What a search fuses when the index does not answer: the configured signals stored
        in the database, with the question's own dense vector standing in for Chroma's."""
        return (
            "dense_question",
            *(s for s in self.signals if s not in ("dense", "dense_question")),
        )

    async def _ask_index(
        self, fn: Callable[..., T], *args: Any, deadline: float | None = None
    ) -> T:
        """Call the index through its circuit breaker, by the loop-time ``deadline`` if given.

        Raises ``IndexUnreachable`` when the circuit is open, or the index times out or cannot
        be reached (counted by the breaker); an index that answers with an error is reachable,
        and its error is raised as it is.
        """
        breaker = self.breaker
        if not breaker.allow():
            raise IndexUnreachable(
                "circuit_open",
                f"{self.index.where} failed {breaker.failures} time(s) in a row; not asked "
                f"until a probe after {breaker.cooldown.total_seconds():g}s succeeds",
            )
        try:
            if deadline is None:
                result = await self.index.call(fn, *args)
            else:
                async with asyncio.timeout_at(deadline):
                    result = await self.index.call(fn, *args)
        except TimeoutError as exc:
            failure = IndexUnreachable(
                "timeout",
                f"{self.index.where} did not answer within {self.search_timeout:g}s",
            )
            self._index_failed(failure)
            raise failure from exc
        except IndexUnreachable as exc:
            self._index_failed(exc)
            raise
        except Exception:
            self._index_answered()  # an error is an answer: the index is there
            raise
        except BaseException:
            if breaker.probing:  # a cancelled probe must not hold the circuit half-open
                breaker.record_failure()
            raise
        self._index_answered()
        return result

    def _index_failed(self, failure: IndexUnreachable) -> None:
        was_open = self.breaker.opened_at is not None
        self.breaker.record_failure()
        if not was_open and self.breaker.opened_at is not None:
            log.warning(
                "knowledge index circuit open",
                extra={
                    "fields": {
                        "index": self.index.where,
                        "status": failure.status,
                        "detail": str(failure),
                        "cooldown_seconds": self.breaker.cooldown.total_seconds(),
                    }
                },
            )

    def _index_answered(self) -> None:
        if self.breaker.opened_at is not None:
            log.warning(
                "knowledge index answers again", extra={"fields": {"index": self.index.where}}
            )
        self.breaker.record_success()

    async def _index_write(
        self, session: AsyncSession, workspace_id: str, fn: Callable[..., None], *args: Any
    ) -> bool:
        """Send a change to the index. False when the index did not answer: then the
        workspace is marked as having its index behind, in the change's own transaction, and
        ``catch_up_index`` sends the stored entries later. Raises ``IndexUnavailable`` when
        the index answered with an error."""
        try:
            await self._ask_index(fn, *args)
        except IndexUnreachable as exc:
            await _mark_index_behind(session, workspace_id)
            log.warning(
                "knowledge stored, index behind",
                extra={
                    "fields": {
                        "workspace_id": workspace_id,
                        "status": exc.status,
                        "detail": str(exc),
                    }
                },
            )
            return False
        except Exception as exc:
            raise IndexUnavailable(f"the vector index failed: {exc}") from exc
        return True

    async def _index_behind_now(self, workspace_id: str) -> None:
        """Mark the index behind in a transaction of its own (after a rolled-back change whose
        index step could not be undone), so the catch-up removes what it left there."""
        with contextlib.suppress(Exception):
            async with self._sessions() as session, session.begin():
                await _mark_index_behind(session, workspace_id)

    @property
    def _parts(self) -> frozenset[str]:
        """The representations a new entry gets: what the configured signals read."""
        return parts_for(self.signals, self.encoder.has_sparse)

    def _searchable(self, vectors: EntryVectors | None) -> bool:
        """Whether stored representations hold every one a search with the configured signals
        reads (the index's own vector aside: the index holds it)."""
        return vectors is not None and all(vectors.has(p) for p in self._parts - {DENSE_TEXT})

    async def _representations(
        self,
        items: Sequence[tuple[str, str]],
        known: Sequence[EntryVectors | None] | None = None,
    ) -> list[bytes]:
        """The packed representations of (question, answer) pairs: what ``known`` (stored for
        each pair) lacks of the configured parts, computed (the model: in a thread)."""
        vectors = await asyncio.to_thread(compute, self.encoder, items, self._parts, known)
        return [v.pack() for v in vectors]

    async def add_many(
        self,
        workspace_id: str,
        items: Sequence[EntryData],
        now: datetime,
        before_commit: BeforeCommit | None = None,
    ) -> list[KnowledgeEntry]:
        """Store and index entries in one step: all of them land, or none (in both stores)."""
        packed = await self._representations([(i.question, i.answer) for i in items])
        rows = [
            _new_row(workspace_id, item, now, vectors)
            for item, vectors in zip(items, packed, strict=True)
        ]
        ids = [r.id for r in rows]

        async def undo() -> None:
            await self._ask_index(self.index.delete, workspace_id, ids)

        async with self._sessions() as session:
            session.add_all(rows)
            try:
                await session.flush()
            except IntegrityError as exc:
                taken = next((i.external_id for i in items if i.external_id), None)
                raise ExternalIdTaken(taken) from exc
            await self._index_then_commit(
                session, workspace_id, [_indexed(r) for r in rows], undo, rows, before_commit
            )
        return rows

    async def merge_many(
        self, workspace_id: str, items: Sequence[EntryData], now: datetime
    ) -> Merged:
        """Store entries as an import gives them: an entry the workspace already has (the same
        ``external_id``, or else the same question and language) is updated when it differs
        and left alone when it does not; the others are created. One transaction, as
        ``add_many``; imports of one workspace take turns (the workspace row is locked first),
        so two imports of one file cannot both create its entries.
        """
        plan = await self._plan(workspace_id, items)
        if not plan.created and not plan.updated:
            return plan.merged
        packed = dict(
            zip(
                plan.texts,
                await self._representations(plan.texts),
                strict=True,
            )
        )
        async with self._sessions() as session:
            # The lock: on PostgreSQL the row, on SQLite the database's one writer. Then the
            # plan is made again, from what is stored now.
            await session.execute(
                update(Workspace)
                .where(Workspace.id == workspace_id)
                .values(knowledge_revision=Workspace.knowledge_revision + 1)
            )
            plan = await self._plan(workspace_id, items, session)
            missing = [t for t in plan.texts if t not in packed]
            if missing:  # changed by someone else meanwhile: rare
                packed.update(zip(missing, await self._representations(missing), strict=True))
            rows: list[KnowledgeEntry] = []
            for item in plan.created:
                row = _new_row(workspace_id, item, now, packed[(item.question, item.answer)])
                session.add(row)
                rows.append(row)
                plan.merged.created.append(row.id)
            previous = [_indexed(row) for row, _ in plan.updated]
            for row, item in plan.updated:
                _assign(row, item, now, packed.get((item.question, item.answer), row.vectors))
                rows.append(row)
                plan.merged.updated.append(row.id)
            try:
                await session.flush()
            except IntegrityError as exc:
                await session.rollback()
                taken = next((i.external_id for i in items if i.external_id), None)
                raise ExternalIdTaken(taken) from exc
            created_ids = list(plan.merged.created)

            async def undo() -> None:
                await self._ask_index(self.index.delete, workspace_id, created_ids)
                await self._ask_index(self.index.upsert, workspace_id, previous)

            await self._index_then_commit(
                session, workspace_id, [_indexed(r) for r in rows], undo, rows, None
            )
        return plan.merged

    async def _plan(
        self, workspace_id: str, items: Sequence[EntryData], session: AsyncSession | None = None
    ) -> _Plan:
        """Which items are new, which change a stored entry, which are stored as given."""
        if session is None:
            async with self._sessions() as own:
                return await self._plan(workspace_id, items, own)
        external = sorted({i.external_id for i in items if i.external_id})
        questions = sorted({i.question for i in items})
        stored = (
            await session.scalars(
                select(KnowledgeEntry)
                .where(
                    KnowledgeEntry.workspace_id == workspace_id,
                    or_(
                        KnowledgeEntry.external_id.in_(external),
                        KnowledgeEntry.question.in_(questions),
                    ),
                )
                .order_by(KnowledgeEntry.created_at, KnowledgeEntry.id)
            )
        ).all()
        by_external = {e.external_id: e for e in stored if e.external_id}
        by_question: dict[tuple[str, str], list[KnowledgeEntry]] = {}
        for entry in stored:
            by_question.setdefault((entry.language, entry.question), []).append(entry)
        plan, claimed = _Plan(), set[str]()
        for item in items:
            same_question = [
                e
                for e in by_question.get((item.language, item.question), [])
                if e.id not in claimed
                and (item.external_id is None or e.external_id is None)  # never steal one
            ]
            match = (by_external.get(item.external_id) if item.external_id else None) or next(
                iter(same_question), None
            )
            if match is None:
                plan.created.append(item)
                continue
            claimed.add(match.id)
            if _same(match, item):
                plan.merged.unchanged.append(match.id)
            else:
                plan.updated.append((match, item))
        return plan

    async def update(
        self,
        workspace_id: str,
        entry_id: str,
        item: EntryData,
        now: datetime,
        before_commit: BeforeCommit | None = None,
    ) -> tuple[KnowledgeEntry, dict[str, object]] | None:
        """Replace an entry's values; returns the entry and its values before the change."""
        (packed,) = await self._representations([(item.question, item.answer)])
        async with self._sessions() as session:
            row = await self._get(session, workspace_id, entry_id)
            if row is None:
                return None
            previous, old_index = entry_snapshot(row), _indexed(row)
            _assign(row, item, now, packed)
            row.external_id = item.external_id  # an edit may clear it
            try:
                await session.flush()
            except IntegrityError as exc:
                raise ExternalIdTaken(item.external_id) from exc

            async def undo() -> None:
                await self._ask_index(self.index.upsert, workspace_id, [old_index])

            await self._index_then_commit(
                session, workspace_id, [_indexed(row)], undo, [row], before_commit
            )
        return row, previous

    async def delete(
        self, workspace_id: str, entry_id: str, before_commit: BeforeCommit | None = None
    ) -> KnowledgeEntry | None:
        """Remove an entry from both stores; returns it, or None when it is not there."""
        async with self._sessions() as session:
            row = await self._get(session, workspace_id, entry_id)
            if row is None:
                return None
            old_index = _indexed(row)
            await session.execute(delete(KnowledgeEntry).where(KnowledgeEntry.id == row.id))
            if before_commit is not None:
                await before_commit(session, [row])
            reached = await self._index_write(
                session, workspace_id, self.index.delete, workspace_id, [entry_id]
            )
            try:
                await session.commit()
            except BaseException:
                if reached:
                    try:
                        await self._ask_index(self.index.upsert, workspace_id, [old_index])
                    except Exception:
                        await self._index_behind_now(workspace_id)
                raise
            finally:
                self.snapshots.forget(workspace_id)
        return row

    async def _index_then_commit(
        self,
        session: AsyncSession,
        workspace_id: str,
        entries: list[IndexedEntry],
        undo: Callable[[], Awaitable[None]],
        rows: list[KnowledgeEntry],
        before_commit: BeforeCommit | None,
    ) -> None:
        try:
            if before_commit is not None:
                await before_commit(session, rows)
            await self._index_write(session, workspace_id, self.index.upsert, workspace_id, entries)
            await session.commit()
        except BaseException:
            await session.rollback()
            # The upsert may have written part of a batch before failing: undo it either way;
            # if the index cannot take the undo, the catch-up removes what is left there.
            try:
                await undo()
            except Exception:
                await self._index_behind_now(workspace_id)
            raise
        finally:
            self.snapshots.forget(workspace_id)

    async def get(self, workspace_id: str, entry_id: str) -> KnowledgeEntry | None:
        async with self._sessions() as session:
            return await self._get(session, workspace_id, entry_id)

    async def list_entries(
        self, workspace_id: str, filters: EntryFilter, offset: int, limit: int
    ) -> tuple[list[KnowledgeEntry], int]:
        """A page of entries (newest first) and how many match in total."""
        where = [KnowledgeEntry.workspace_id == workspace_id]
        if filters.language:
            where.append(KnowledgeEntry.language == filters.language)
        if filters.tag:
            # JSON lists are stored as text on SQLite and PostgreSQL alike.
            escaped = filters.tag.replace('"', '\\"')
            where.append(cast(KnowledgeEntry.tags, String).contains(f'"{escaped}"'))
        if filters.q:
            pattern = f"%{filters.q.lower()}%"
            where.append(
                or_(
                    func.lower(KnowledgeEntry.question).like(pattern),
                    func.lower(KnowledgeEntry.answer).like(pattern),
                )
            )
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).where(*where)) or 0
            rows = (
                await session.scalars(
                    select(KnowledgeEntry)
                    .where(*where)
                    .order_by(KnowledgeEntry.created_at.desc(), KnowledgeEntry.id)
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        return list(rows), int(total)

    async def all_entries(self, workspace_id: str) -> list[KnowledgeEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(KnowledgeEntry)
                .where(KnowledgeEntry.workspace_id == workspace_id)
                .order_by(KnowledgeEntry.created_at, KnowledgeEntry.id)
            )
            return list(rows.all())

    async def reindex(
        self, workspace_id: str, batch: int = 256, progress: Callable[[int], None] | None = None
    ) -> int:
        """Rebuild the workspace's vector index with vectors computed anew (after a change of
        embedding model, say), and the entries' representations where they are missing or
        come from another embedding model; the index's vector is kept with the entry."""
        rows = await self.all_entries(workspace_id)
        await self._ask_index_or_refuse(self.index.clear, workspace_id)
        self.snapshots.forget(workspace_id)
        dim = len((await asyncio.to_thread(self.encoder.embed_passages, ["dimension"]))[0])
        for start in range(0, len(rows), batch):
            chunk = [_indexed(r) for r in rows[start : start + batch]]
            stored = [unpack(e.vectors) for e in chunk]
            known = [
                replace(v, dense_text=None) if self._current(v, dim) and v is not None else None
                for v in stored
            ]
            packed = await self._representations([(e.question, e.answer) for e in chunk], known)
            chunk = [replace(e, vectors=b) for e, b in zip(chunk, packed, strict=True)]
            await self._ask_index_or_refuse(self.index.upsert, workspace_id, chunk)
            await self._store_vectors(workspace_id, chunk, packed)
            if progress is not None:
                progress(len(chunk))
        return len(rows)

    def _current(self, vectors: EntryVectors | None, dim: int) -> bool:
        """Whether stored representations are what this embedding model would compute."""
        return (
            vectors is not None and len(vectors.dense_question) == dim and self._searchable(vectors)
        )

    async def _store_vectors(
        self, workspace_id: str, entries: Sequence[IndexedEntry], blobs: Sequence[bytes]
    ) -> None:
        """Keep the representations computed from ``entries``' texts, unless an entry was
        reworded meanwhile (its own change stored the new ones); one statement for them all."""
        if not entries:
            return
        table = _ENTRIES
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("entry_id"),
                table.c.workspace_id == workspace_id,
                table.c.question == bindparam("entry_question"),
                table.c.answer == bindparam("entry_answer"),
            )
            .values(vectors=bindparam("entry_vectors"))
        )
        async with self._sessions() as session:
            await session.execute(
                statement,
                [
                    {
                        "entry_id": e.id,
                        "entry_question": e.question,
                        "entry_answer": e.answer,
                        "entry_vectors": blob,
                    }
                    for e, blob in zip(entries, blobs, strict=True)
                ],
            )
            await session.commit()

    async def _ask_index_or_refuse(self, fn: Callable[..., T], *args: Any) -> T:
        """An index step that cannot wait for a catch-up (a re-index): 503 when unreachable."""
        try:
            return await self._ask_index(fn, *args)
        except IndexUnreachable as exc:
            raise IndexUnavailable(
                f"the vector index is unreachable ({exc}); the entries are stored"
            ) from exc

    async def index_size(self, workspace_id: str) -> int:
        """How many entries the vector index holds for the workspace."""
        return await self._ask_index_or_refuse(self.index.count, workspace_id)

    async def catch_up_index(self) -> int:
        """Send the stored entries of every workspace whose index is behind (a change stored
        while the index did not answer) to the index; returns how many workspaces it brought
        up to date. Stops at the first workspace the index does not answer for (the next
        round tries again); safe to run in several processes at once (upserts of the same
        entries, deletes of the same ghosts)."""
        async with self._sessions() as session:
            behind = (
                await session.execute(
                    select(Workspace.id, Workspace.index_pending, Workspace.knowledge_revision)
                    .where(Workspace.index_pending.is_not(None))
                    .order_by(Workspace.id)
                )
            ).all()
        done = 0
        for workspace_id, token, revision in behind:
            try:
                done += await self._catch_up(workspace_id, str(token), int(revision))
            except IndexUnreachable:
                break
        return done

    async def _catch_up(self, workspace_id: str, token: str, revision: int) -> bool:
        """Make the workspace's index hold exactly its stored entries; then clear the mark,
        unless a change came in meanwhile (the next round looks again)."""
        held = await self._ask_index(self.index.contents, workspace_id)  # first: see below
        # Read after the index: an entry added in between is sent again (no harm); one deleted
        # in between is not in the entries and is deleted from the index (as it should be).
        entries = [_indexed(e) for e in await self.all_entries(workspace_id)]
        stale = [e for e in entries if held.get(e.id) != stamp(e)]
        ghosts = sorted(set(held) - {e.id for e in entries})
        for start in range(0, len(stale), CATCH_UP_BATCH):
            chunk = stale[start : start + CATCH_UP_BATCH]
            await self._ask_index(self.index.upsert, workspace_id, chunk)
        if ghosts:
            await self._ask_index(self.index.delete, workspace_id, ghosts)
        async with self._sessions() as session, session.begin():
            cleared = await session.execute(
                update(Workspace)
                .where(
                    Workspace.id == workspace_id,
                    Workspace.index_pending == token,
                    Workspace.knowledge_revision == revision,
                )
                .values(index_pending=None)
            )
        caught_up = bool(cleared.rowcount)  # type: ignore[attr-defined]
        log.warning(
            "knowledge index caught up" if caught_up else "knowledge index catching up",
            extra={
                "fields": {
                    "workspace_id": workspace_id,
                    "sent": len(stale),
                    "removed": len(ghosts),
                }
            },
        )
        return caught_up

    async def search(
        self,
        workspace_id: str,
        vector: list[float],
        k: int,
        today: date,
        query: str | None = None,
        revision: str | None = None,
        trace: RetrievalTrace | None = None,
    ) -> list[Hit]:
        """What the agent retrieves: the ``k`` best valid entries, by Chroma's dense ranking
        alone or fused with the other signals (docs/retrieval.md).

        Chroma gives the nearest ids; the entries come from the snapshot of the database at
        the knowledge ``revision`` (pass it when just read with ``revision()``; else it is read
        here, beside the Chroma search). Chroma is given ``search_timeout`` seconds; when it
        does not answer (or its circuit is open), the entries are ranked from the database's
        own signals (``fallback_signals``) and ``trace`` records why.
        """
        trace = trace if trace is not None else RetrievalTrace()
        fused = self._fused
        pool = max(k * 10, 40) if fused else k
        deadline = asyncio.get_running_loop().time() + self.search_timeout
        nearest = self._nearest(workspace_id, vector, pool, None, deadline, trace)
        sparse_query = self._sparse_query(query) if fused else _nothing()
        if revision is None:
            found, stamped, sparse = await asyncio.gather(
                nearest, self.revision(workspace_id), sparse_query
            )
        else:
            (found, sparse), stamped = await asyncio.gather(nearest, sparse_query), revision
        if found is None:
            return await self._search_database(
                workspace_id, vector, k, today, query, stamped, sparse, trace
            )
        snapshot = self.current_snapshot(workspace_id, stamped)
        if snapshot is None:
            # The entries moved since this process last looked, by its own change or another
            # process's: the snapshot is taken again and an embedded index reopened, so the
            # nearest ids are asked again from the index as it is now.
            snapshot = await self.snapshot(workspace_id, stamped)
            if self.index.embedded:
                again = await self._nearest(workspace_id, vector, pool, None, deadline, trace)
                if again is None:
                    return await self._search_database(
                        workspace_id, vector, k, today, query, stamped, sparse, trace
                    )
                found = again
        if not found:
            return []
        hits, expired_dropped = snapshot.hits(found, today)
        if expired_dropped:  # expired entries took places: ask for valid ones only
            valid = await self._nearest(workspace_id, vector, pool, today, deadline, trace)
            if valid is None:
                return await self._search_database(
                    workspace_id, vector, k, today, query, stamped, sparse, trace
                )
            hits, _ = snapshot.hits(valid, today)
        if not fused:
            return hits[:k]
        signals = QuerySignals(query, np.asarray(vector, dtype=np.float32), sparse)
        # A few hundred entries' scores are a millisecond of numpy: a thread would only add
        # its hand-offs.
        return snapshot.fuse(hits, signals, self.signals, k, today, self.fusion, self.rrf_k)

    async def _nearest(
        self,
        workspace_id: str,
        vector: list[float],
        pool: int,
        valid_on: date | None,
        deadline: float,
        trace: RetrievalTrace,
    ) -> list[tuple[str, float]] | None:
        """Chroma's nearest ids by ``deadline``; None (and why, in ``trace``) when it did not
        answer or answered with an error: the search then ranks from the database."""
        try:
            return await self._ask_index(
                self.index.nearest, workspace_id, vector, pool, valid_on, deadline=deadline
            )
        except IndexUnreachable as exc:
            trace.note(exc.status, str(exc))
        except Exception as exc:
            trace.note("failed", f"{self.index.where} failed: {exc!r}")
        return None

    async def _search_database(
        self,
        workspace_id: str,
        vector: list[float],
        k: int,
        today: date,
        query: str | None,
        revision: str,
        sparse: Any,
        trace: RetrievalTrace,
    ) -> list[Hit]:
        """The ``k`` best valid entries by the signals stored with them (the index's fallback)."""
        snapshot = await self.snapshot(workspace_id, revision, fused=True)
        if snapshot.matrices is None:
            trace.answered_from("none" if snapshot.entries else "database")
            return []
        if sparse is None:
            sparse = await self._sparse_query(query)
        signals = QuerySignals(query, np.asarray(vector, dtype=np.float32), sparse)
        trace.answered_from("database")
        return snapshot.fuse([], signals, self.fallback_signals, k, today, self.fusion, self.rrf_k)

    async def _sparse_query(self, query: str | None) -> Any:
        if query is None or not any(s in SPARSE_SIGNALS for s in self.signals):
            return None
        return (await asyncio.to_thread(self.encoder.sparse, [query[:SPARSE_CHARS]]))[0]

    def current_snapshot(
        self, workspace_id: str, revision: str, fused: bool | None = None
    ) -> KnowledgeSnapshot | None:
        """The kept snapshot if it was taken at ``revision`` with what this search needs
        (``fused``: the stored representations, which a search without the index needs)."""
        keywords = "keyword" in self.signals
        fused = self._fused if fused is None else fused
        return self.snapshots.current(workspace_id, revision, keywords, fused)

    async def snapshot(
        self, workspace_id: str, revision: str, fused: bool | None = None
    ) -> KnowledgeSnapshot:
        """The workspace's entries as stored at ``revision``, taken again when it moved."""
        current = self.current_snapshot(workspace_id, revision, fused)
        if current is not None:
            return current
        keywords = "keyword" in self.signals
        fused = self._fused if fused is None else fused
        async with self._snapshot_lock:
            current = self.snapshots.current(workspace_id, revision, keywords, fused)
            if current is None:
                # Reopened after the revision was read: the index holds at least what the
                # entries at that revision hold (every writer indexes before it commits).
                await asyncio.to_thread(self.index.refresh)
                # Read after the revision: the entries are as new as the stamp, or newer (and
                # then the next search sees a newer revision and takes them again).
                entries = [_indexed(e) for e in await self.all_entries(workspace_id)]
                vectors = await self._entry_vectors(workspace_id, entries) if fused else None
                width = self.encoder.sparse_width
                # Tokenizing thousands of entries takes a while: keep it off the event loop.
                current = await asyncio.to_thread(
                    build_snapshot, revision, entries, keywords, vectors, width
                )
                self.snapshots.keep(workspace_id, current)
        return current

    async def _entry_vectors(
        self, workspace_id: str, entries: list[IndexedEntry]
    ) -> dict[str, EntryVectors]:
        """The entries' stored representations; what a configured signal reads and an entry
        lacks (stored before there were any, or before that signal was configured) is computed
        now and kept (after a change of embedding model, `kb reindex` renews all)."""
        stored = {e.id: unpack(e.vectors) for e in entries}
        vectors = {i: v for i, v in stored.items() if v is not None}
        stale = [e for e in entries if not self._searchable(stored[e.id])]
        # (a changed model's dimension is found by `reindex`, which renews those)
        if stale:
            packed = await self._representations(
                [(e.question, e.answer) for e in stale], [stored[e.id] for e in stale]
            )
            await self._store_vectors(workspace_id, stale, packed)
            computed = zip(stale, packed, strict=True)
            vectors.update({e.id: v for e, b in computed if (v := unpack(b)) is not None})
        return vectors

    async def revision(self, workspace_id: str) -> str:
        """Moves whenever an entry is added, changed or deleted, by any writer (a trigger)."""
        async with self._sessions() as session:
            revision = await session.scalar(
                select(Workspace.knowledge_revision).where(Workspace.id == workspace_id)
            )
        return str(revision)

    @staticmethod
    async def _get(
        session: AsyncSession, workspace_id: str, entry_id: str
    ) -> KnowledgeEntry | None:
        return await session.scalar(
            select(KnowledgeEntry).where(
                KnowledgeEntry.id == entry_id, KnowledgeEntry.workspace_id == workspace_id
            )
        )


async def _nothing() -> None:
    return None


async def _mark_index_behind(session: AsyncSession, workspace_id: str) -> None:
    """The workspace's index misses a stored change: a new mark (``catch_up_index`` clears
    only the mark it saw, so a change that fails during a catch-up is caught up again)."""
    await session.execute(
        update(Workspace).where(Workspace.id == workspace_id).values(index_pending=new_id("ixb"))
    )


def _new_row(
    workspace_id: str, item: EntryData, now: datetime, vectors: bytes | None
) -> KnowledgeEntry:
    """A new entry's row, with its stored representations."""
    return KnowledgeEntry(
        id=new_id("kb"),
        workspace_id=workspace_id,
        question=item.question,
        answer=item.answer,
        language=item.language,
        tags=list(item.tags),
        valid_until=item.valid_until,
        external_id=item.external_id,
        created_at=now,
        updated_at=now,
        vectors=vectors,
    )
