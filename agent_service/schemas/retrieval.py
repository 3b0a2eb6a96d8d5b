"""How a turn's knowledge was retrieved: stored in ``Turn.retrieval`` and sent as
``MessageResponse.retrieval``, so an operator sees which answers were given without the index.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# "ok": the vector index answered in time. "timeout": it did not answer within
# ``retrieval_timeout_seconds``. "unavailable": it could not be reached (refused, reset).
# "circuit_open": it failed recently, so it was not asked (a probe goes through after the
# cooldown). "failed": it answered with an error.
RetrievalStatus = Literal["ok", "timeout", "unavailable", "circuit_open", "failed"]
# Where the entries came from: the vector index fused with the database's signals, the
# database's signals alone (the index's fallback), or nowhere (nothing could be searched).
RetrievalSource = Literal["index", "database", "none"]

# Worst last: a turn that searched several times reports the worst search.
SEVERITY: tuple[RetrievalStatus, ...] = ("ok", "circuit_open", "failed", "unavailable", "timeout")


class RetrievalInfo(BaseModel):
    """How the knowledge of this turn was retrieved."""

    status: RetrievalStatus = Field(
        description="`ok`: the vector index answered; `timeout`, `unavailable`, `failed`, "
        "`circuit_open`: it did not, and `source` says what answered instead."
    )
    source: RetrievalSource = Field(
        description="`index`: the vector index with the stored signals; `database`: the "
        "entries' stored signals alone; `none`: no knowledge could be searched."
    )
    detail: str | None = Field(default=None, description="Why the index was not used.")
