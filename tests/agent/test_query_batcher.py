"""Query embeddings: batched while the model is busy, started ahead when a message arrives."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from agent_service.agent.query_batcher import QueryBatcher


class CountingModel:
    """A fake embedder: one vector per text, recording every batch it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    def __call__(self, texts: list[str]) -> np.ndarray[Any, Any]:
        self.batches.append(list(texts))
        if self.fail:
            raise RuntimeError("embedder down")
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_a_prefetched_text_is_embedded_once() -> None:
    model = CountingModel()

    async def turn() -> np.ndarray[Any, Any]:
        batcher = QueryBatcher(model)
        batcher.prefetch("how much is a facial?")
        await asyncio.sleep(0.01)  # the turn stores the message meanwhile
        return await batcher.embed(["short", "how much is a facial?"])

    vectors = asyncio.run(turn())
    assert sorted(map(tuple, model.batches)) == [("how much is a facial?",), ("short",)]
    assert vectors.tolist() == [[5.0, 1.0], [21.0, 1.0]]


def test_unclaimed_prefetches_are_dropped_oldest_first() -> None:
    model = CountingModel()

    async def run() -> None:
        batcher = QueryBatcher(model, max_ahead=2)
        for text in ("a", "bb", "ccc"):
            batcher.prefetch(text)
        await asyncio.sleep(0.01)
        await batcher.embed(["a"])  # dropped: embedded again

    asyncio.run(run())
    assert [t for batch in model.batches for t in batch].count("a") == 2


def test_a_failed_prefetch_fails_the_turn_that_claims_it_and_no_other() -> None:
    model = CountingModel(fail=True)

    async def run() -> None:
        batcher = QueryBatcher(model)
        batcher.prefetch("unclaimed")
        batcher.prefetch("claimed")
        with pytest.raises(RuntimeError, match="embedder down"):
            await batcher.embed(["claimed"])

    asyncio.run(run())
