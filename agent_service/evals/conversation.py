"""Playing one case's conversation through the production ``run_turn`` and events code path."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import run_turn
from agent_service.conversations.events import apply_event
from agent_service.evals.observation import (
    EventView,
    Observation,
    TurnView,
    owner_of,
    read_contact,
    read_turn,
)
from agent_service.evals.simulated_customer import next_message
from agent_service.evals.suite import Case, ScriptedModel
from agent_service.schemas.contacts import ContactEventIn
from agent_service.schemas.messages import ContactIn, InboundMessage
from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call

_message_ids = itertools.count(1)


class UnsupportedEvent(ValueError):
    """An event type the events code path does not accept (yet)."""


def type_rejected(exc: ValidationError) -> bool:
    """True when the events schema refused the event's ``type`` itself."""
    return any(
        (e["loc"][:1] == ("type",)) or e["type"] in ("union_tag_invalid", "union_tag_not_found")
        for e in exc.errors()
    )


class CaseClock:
    """The case's clock: starts at the case's time, one second per reading."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def fill(value: Any, names: dict[str, str]) -> Any:
    """``{contact.NAME}`` and ``{canary}`` placeholders replaced, in strings, lists and dicts."""
    if isinstance(value, str):
        for placeholder, actual in names.items():
            value = value.replace(placeholder, actual)
        return value
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


def placeholders(case: Case, prefix: str, canary: str | None) -> dict[str, str]:
    names = {f"{{contact.{s.contact}}}": f"{prefix}.{s.contact}" for s in case.steps}
    names["{contact.customer}"] = f"{prefix}.customer"
    names["{canary}"] = canary or "{canary}"
    return names


def scripted_model(spec: ScriptedModel, names: dict[str, str]) -> ScriptedChatModel:
    """The case's scripted model; once the script is used up it answers politely, no tools."""
    steps = [
        reply(
            fill(t.reply, names),
            *(tool_call(c["name"], **fill(c.get("args", {}), names)) for c in t.tool_calls),
        )
        for t in spec.turns
    ]
    return ScriptedChatModel(steps=steps + [reply("Thank you! Is there anything else?")] * 30)


async def apply_case_event(
    deps: AgentDeps, workspace_id: str, external_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    """One event through the events endpoint's schema and ``apply_event``, as the API does."""
    # A case may leave out the idempotency key; each application is a new event.
    event = {"event_id": f"eval-{uuid.uuid4().hex}", **event}
    try:
        parsed = ContactEventIn.model_validate(event)
    except ValidationError as exc:
        if type_rejected(exc):
            raise UnsupportedEvent(f"unsupported event type '{event.get('type')}'") from exc
        raise
    async with (
        deps.contact_locks.hold(workspace_id, external_id),
        deps.sessions() as session,
        session.begin(),
    ):
        result = await apply_event(session, workspace_id, external_id, parsed, deps.clock())
    return result.model_dump(mode="json")


@dataclasses.dataclass
class CaseSetup:
    """Where and with what a case trial runs."""

    deps: AgentDeps
    workspace_id: str
    contact_prefix: str
    customer_model: BaseChatModel | None = None
    canary: str | None = None


async def play(case: Case, setup: CaseSetup, obs: Observation) -> None:
    """Send the case's messages and events in order, recording what happened into ``obs``."""
    deps, ws = setup.deps, setup.workspace_id
    clock = deps.clock
    assert isinstance(clock, CaseClock)
    names = placeholders(case, setup.contact_prefix, setup.canary)
    for step in case.steps:
        if step.at is not None:
            clock.now = step.at
        external_id = f"{setup.contact_prefix}.{step.contact}"
        if step.event is not None:
            event = fill(step.event, names)
            if "event_id" in event:
                # An event id is the workspace's idempotency key: each trial (its own contact
                # prefix) sends its own events; a repeat within the case stays a repeat.
                event = {**event, "event_id": f"{setup.contact_prefix}.{event['event_id']}"}
            view = EventView(step.contact, event)
            obs.transcript.append(view)
            view.result = await apply_case_event(deps, ws, external_id, event)
            continue
        assert step.say is not None
        turn = await say(case, setup, step.contact, fill(step.say, names), obs)
        turn.needs_knowledge = step.needs_knowledge
    if case.simulated is not None and setup.customer_model is not None:
        exchanges: list[tuple[str, str | None]] = []
        for _ in range(case.simulated.max_turns):
            text = await next_message(setup.customer_model, case.simulated, exchanges)
            if text is None:
                break
            said = await say(case, setup, "customer", text, obs)
            exchanges.append((text, said.reply))
    async with deps.sessions() as session:
        for who in {"customer", *(s.contact for s in case.steps)}:
            contact = await read_contact(session, ws, f"{setup.contact_prefix}.{who}")
            if contact is not None:
                obs.contacts[who] = contact


async def say(case: Case, setup: CaseSetup, who: str, text: str, obs: Observation) -> TurnView:
    deps, ws = setup.deps, setup.workspace_id
    external_id = f"{setup.contact_prefix}.{who}"
    async with deps.sessions() as session:
        turn = TurnView(who, text, owner_before=await owner_of(session, ws, external_id))
    obs.transcript.append(turn)
    inbound = InboundMessage(
        message_id=f"eval.{setup.contact_prefix}.{next(_message_ids)}",
        channel="whatsapp",
        contact=ContactIn(id=external_id, name=case.name, locale=case.locale),
        text=text,
        sent_at=deps.clock(),
    )
    response = await run_turn(deps, ws, inbound)
    async with deps.sessions() as session:
        await read_turn(session, turn, response.turn_id)
    return turn
