"""Knowledge export, in the same shapes the importer reads (FAQ JSON and CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from agent_service.db.models import KnowledgeEntry

CSV_COLUMNS = ("id", "external_id", "question", "answer", "language", "tags", "valid_until")


def entry_row(entry: KnowledgeEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "external_id": entry.external_id,
        "question": entry.question,
        "answer": entry.answer,
        "language": entry.language,
        "tags": list(entry.tags or []),
        "valid_until": entry.valid_until.isoformat() if entry.valid_until else None,
    }


def to_json(entries: Sequence[KnowledgeEntry]) -> str:
    return json.dumps([entry_row(e) for e in entries], ensure_ascii=False, indent=1)


def to_csv(entries: Sequence[KnowledgeEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for entry in entries:
        row = entry_row(entry)
        writer.writerow(
            {
                **row,
                "external_id": row["external_id"] or "",
                "tags": "; ".join(row["tags"]),
                "valid_until": row["valid_until"] or "",
            }
        )
    return out.getvalue()
