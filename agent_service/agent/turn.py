"""``run_turn``: one customer message in, a reply and lifecycle actions out.

The same function serves the HTTP API, the CLI and the eval runner.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from agent_service import conversations
from agent_service.agent.chat_model import ModelUnavailable
from agent_service.agent.context import ToolContext
from agent_service.agent.deps import AgentDeps
from agent_service.agent.llm_agent import ModelUsage, run_llm_agent
from agent_service.agent.offline_planner import PlannerThresholds, run_offline_planner
from agent_service.agent.qualification_rule import apply_qualification_rule
from agent_service.db import models
from agent_service.handoff_guard import given_back_categories
from agent_service.ids import new_id
from agent_service.knowledge_base.index import Hit
from agent_service.language import detect_language
from agent_service.schemas.messages import InboundMessage, MessageResponse, Reply, TurnUsage
from agent_service.workspace import WorkspaceConfig, load_workspace_config

OFFLINE = "offline-planner"


async def run_turn(deps: AgentDeps, workspace_id: str, inbound: InboundMessage) -> MessageResponse:
    """Store the message, then answer it once; a repeat gets the stored response."""
    async with deps.contact_locks.hold(workspace_id, inbound.contact.id):
        async with deps.sessions() as session:
            config = await load_workspace_config(session, workspace_id)
        received = await conversations.receive(
            deps.sessions, workspace_id, inbound, config.lifecycle.entry_stage, deps.clock()
        )
        if received.duplicate:
            stored = await conversations.stored_response(deps.sessions, received.message_row_id)
            if stored is None:
                raise TimeoutError("the original delivery of this message is still being processed")
            return MessageResponse.model_validate(stored)
        return await _answer(deps, config, inbound, received)


async def _answer(
    deps: AgentDeps,
    config: WorkspaceConfig,
    inbound: InboundMessage,
    received: conversations.Received,
) -> MessageResponse:
    started = time.perf_counter()
    now = deps.clock()
    async with deps.sessions() as session:
        contact_row = await session.get(models.Contact, received.contact_row_id)
        assert contact_row is not None
        past = await conversations.history(
            session, contact_row.id, received.message_row_id, deps.settings.history_messages
        )
        handed_back = await given_back_categories(session, contact_row.id)
    contact = conversations.contact_state(contact_row)
    contact.handed_back = handed_back
    if contact.owner == "human":
        silent = MessageResponse(
            message_id=inbound.message_id,
            status="silent",
            reply=None,
            actions=[],
            contact=conversations.contact_summary(contact),
        )
        await conversations.save_silent(deps.sessions, received.message_row_id, silent)
        return silent

    locale = (contact_row.locale or "")[:2].lower() or None
    language = detect_language(inbound.text, contact.language or locale or config.default_language)
    customer_words = [m.text for m in past if m.direction == "in"] + [inbound.text]
    query = _retrieval_query(inbound.text, customer_words[:-1])
    # One embedding call: the retrieval query, and the message alone for intent detection.
    texts = [query] if query == inbound.text else [query, inbound.text]
    vectors = await asyncio.to_thread(deps.embeddings.embed_queries, texts)
    hits = await deps.knowledge.search(
        config.id, vectors[0].tolist(), deps.settings.retrieval_k, now.date()
    )

    async def search(text: str) -> list[Hit]:
        found = (await asyncio.to_thread(deps.embeddings.embed_queries, [text]))[0]
        return await deps.knowledge.search(
            config.id, found.tolist(), deps.settings.retrieval_k, now.date()
        )

    ctx = ToolContext(
        config=config,
        contact=contact,
        customer_words=customer_words,
        language=language,
        now=now,
        search=search,
        retrieved=list(hits),
    )
    usage = ModelUsage()
    brain, model_name, error, reply = OFFLINE, OFFLINE, None, ""
    if deps.chat_model is not None:
        brain, model_name = "llm", deps.model_name
        try:
            reply = await run_llm_agent(
                ctx,
                deps.chat_model,
                _as_messages(past),
                inbound.text,
                inbound.channel,
                deps.settings,
                usage,
            )
        except ModelUnavailable as exc:
            error = f"model unavailable: {exc}"
    if not reply and ctx.handoff is None:
        if brain == "llm":
            brain = "llm+offline-planner"
        reply = await run_offline_planner(
            ctx, inbound.text, hits, _intent(deps, config, vectors[-1]), _thresholds(deps)
        )
    elif not reply:
        team = config.team(ctx.handoff.team if ctx.handoff else None)
        reply = config.prompts.phrase(
            "handoff", language, business_name=config.name, team=team.name if team else ""
        )
    extra = await apply_qualification_rule(ctx, inbound.text)
    if extra:
        reply = f"{reply} {extra}".strip()

    turn_id = new_id("turn")
    response = MessageResponse(
        message_id=inbound.message_id,
        status="replied",
        reply=Reply(text=reply, language=language),
        actions=ctx.actions,
        contact=conversations.contact_summary(contact),
        turn_id=turn_id,
        usage=TurnUsage(
            brain=brain,
            model=model_name,
            prompt_version=config.prompts.version_label,
            model_calls=usage.calls,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        ),
    )
    record = conversations.TurnRecord(
        turn_id=turn_id,
        brain=brain,
        model=model_name,
        prompt_version=config.prompts.version_label,
        model_calls=usage.calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        error=error,
    )
    await conversations.save_turn(
        deps.sessions, config.id, received, ctx, record, response, inbound.channel
    )
    return response


def _retrieval_query(text: str, earlier_customer_words: list[str]) -> str:
    """The message, with the previous one when it is too short to stand alone ('and in HCM?')."""
    if len(text.split()) < 4 and len(text) < 25 and earlier_customer_words:
        return f"{earlier_customer_words[-1]} {text}"
    return text


def _as_messages(past: list[models.Message]) -> list[BaseMessage]:
    return [HumanMessage(m.text) if m.direction == "in" else AIMessage(m.text) for m in past]


def _intent(deps: AgentDeps, config: WorkspaceConfig, vector: np.ndarray[Any, Any]) -> Any:
    return deps.intents.best(config.id, config.intent_examples, vector)


def _thresholds(deps: AgentDeps) -> PlannerThresholds:
    return PlannerThresholds(
        answer=deps.settings.planner_answer_threshold,
        intent=deps.settings.planner_intent_threshold,
        intent_margin=deps.settings.planner_intent_margin,
    )
