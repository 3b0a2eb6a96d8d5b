"""Retrieval for one query, exactly as the agent's turn does it (embedding, then search)."""

from __future__ import annotations

import asyncio
from datetime import date

from agent_service.knowledge_base.embeddings import QueryEmbeddings
from agent_service.knowledge_base.index import Hit
from agent_service.knowledge_base.store import KnowledgeBase


async def retrieve(
    knowledge: KnowledgeBase,
    embeddings: QueryEmbeddings,
    workspace_id: str,
    query: str,
    k: int,
    today: date,
) -> list[Hit]:
    vector = (await asyncio.to_thread(embeddings.embed_queries, [query]))[0]
    return await knowledge.search(workspace_id, vector.tolist(), k, today, query=query)
