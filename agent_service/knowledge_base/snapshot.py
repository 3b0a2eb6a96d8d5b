"""A workspace's knowledge as stored at one revision: what a search reads besides Chroma.

Chroma answers which entry ids are nearest to the query. The entries themselves (text,
language, expiry) and the keyword (BM25) side of hybrid retrieval come from this in-memory
snapshot of the database, the source of truth. It is stamped with the workspace's knowledge
revision, which a database trigger moves on every change of an entry, by any process, so a
search never uses a snapshot older than the entries.

Asking Chroma for ids and distances only is what makes this worth it: fetching the stored
metadata of 40 candidates costs more than the nearest-neighbour search itself (docs/performance.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from agent_service.knowledge_base.index import Hit, IndexedEntry
from agent_service.knowledge_base.keyword import KeywordScorer


@dataclass(frozen=True)
class KnowledgeSnapshot:
    revision: str
    entries: Mapping[str, IndexedEntry]
    keywords: KeywordScorer | None  # built only for hybrid retrieval

    def hits(self, nearest: Sequence[tuple[str, float]], today: date) -> tuple[list[Hit], bool]:
        """The stored entries among ``nearest`` (id, similarity) that are still valid on
        ``today``, in order; and whether an expired one was dropped.

        An id the snapshot lacks is skipped: the index can briefly hold an entry whose
        transaction has not committed (or failed), and only stored entries are answered from.
        """
        found: list[Hit] = []
        expired = False
        for entry_id, score in nearest:
            entry = self.entries.get(entry_id)
            if entry is None:
                continue
            if entry.valid_until is not None and entry.valid_until < today:
                expired = True
                continue
            found.append(Hit(entry.id, score, entry.question, entry.answer, entry.language))
        return found, expired


def build_snapshot(
    revision: str, entries: Sequence[IndexedEntry], keywords: bool
) -> KnowledgeSnapshot:
    """Index the entries by id, and tokenize them for BM25 when ``keywords`` (slow: a thread)."""
    return KnowledgeSnapshot(
        revision=revision,
        entries={e.id: e for e in entries},
        keywords=KeywordScorer(entries) if keywords and entries else None,
    )


class KnowledgeSnapshots:
    """The newest snapshot per workspace, for the ``most`` workspaces searched last (a process
    serving many workspaces keeps the busy ones); used from the event loop only."""

    def __init__(self, most: int = 128) -> None:
        self._by_workspace: OrderedDict[str, KnowledgeSnapshot] = OrderedDict()
        self._most = most

    def current(self, workspace_id: str, revision: str, keywords: bool) -> KnowledgeSnapshot | None:
        """The workspace's snapshot if it was taken at ``revision`` (with BM25 if asked)."""
        snapshot = self._by_workspace.get(workspace_id)
        if snapshot is None or snapshot.revision != revision:
            return None
        if keywords and snapshot.keywords is None and snapshot.entries:
            return None
        self._by_workspace.move_to_end(workspace_id)
        return snapshot

    def keep(self, workspace_id: str, snapshot: KnowledgeSnapshot) -> None:
        self._by_workspace[workspace_id] = snapshot
        self._by_workspace.move_to_end(workspace_id)
        while len(self._by_workspace) > self._most:
            self._by_workspace.popitem(last=False)  # the workspace searched longest ago

    def forget(self, workspace_id: str) -> None:
        self._by_workspace.pop(workspace_id, None)
