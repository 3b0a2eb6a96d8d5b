"""``agent-service chat``: a conversation with the agent in the terminal.

One session starts the service once (or talks to a running one by URL and key) and sends each
line typed as the customer's next message through the same ``run_turn`` as the API. Replies are
printed as text with the actions they took; ``/trace`` shows what the last turn retrieved and
decided, ``/stage`` where the contact stands, ``/reset`` starts over as a new contact.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from agent_service.core.config import Settings

HELP = (
    "Type the customer's message. Commands: /trace (what the last turn retrieved and decided), "
    "/stage (the contact's stage and fields), /reset (start over as a new contact), /help, "
    "/quit."
)


class Backend(Protocol):
    async def send(self, contact: str, text: str) -> dict[str, Any]: ...
    async def trace(self, turn_id: str, contact: str) -> dict[str, Any] | None: ...
    async def contact(self, contact: str) -> dict[str, Any] | None: ...
    async def close(self) -> None: ...


def _message(contact: str, text: str, channel: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "message_id": f"cli-{uuid.uuid4().hex[:16]}",
        "channel": channel,
        "contact": {"id": contact},
        "text": text,
        "sent_at": now.isoformat(),
    }


class LocalBackend:
    """The service in this process, started once for the session (embedded defaults, or the
    running server's Chroma when one serves the same data directory)."""

    def __init__(self, settings: Settings, workspace: str, channel: str) -> None:
        self.settings, self.workspace, self.channel = settings, workspace, channel
        self._service: Any = None

    async def start(self) -> None:
        from agent_service.service import build_service

        # Typed lines arrive one at a time: no burst can follow, so each is answered at once.
        self._service = build_service(self.settings.model_copy(update={"burst_window_seconds": 0}))
        await self._service.start()

    async def send(self, contact: str, text: str) -> dict[str, Any]:
        from agent_service.agent.turn import run_turn
        from agent_service.schemas.messages import InboundMessage

        message = InboundMessage.model_validate(_message(contact, text, self.channel))
        response = await run_turn(self._service.deps, self.workspace, message)
        return response.model_dump(mode="json", by_alias=True)

    async def trace(self, turn_id: str, contact: str) -> dict[str, Any] | None:
        from agent_service.db import models

        async with self._service.deps.sessions() as session:
            row = await session.get(models.Turn, turn_id)
        if row is None or row.workspace_id != self.workspace:
            return None
        return {
            "brain": row.brain,
            "model": row.model,
            "prompt_version": row.prompt_version,
            "latency_ms": row.latency_ms,
            "model_calls": row.model_calls,
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "retrieval": row.retrieval,
            "retrieved": list(row.retrieved or []),
            "tool_calls": list(row.tool_calls or []),
            "error": row.error,
        }

    async def contact(self, contact: str) -> dict[str, Any] | None:
        from sqlalchemy import select

        from agent_service.db import models

        async with self._service.deps.sessions() as session:
            row = await session.scalar(
                select(models.Contact).filter_by(workspace_id=self.workspace, external_id=contact)
            )
        if row is None:
            return None
        return {
            "lifecycle_stage": row.lifecycle_stage,
            "lost": row.lost,
            "lost_reason": row.lost_reason,
            "owner": "human" if row.owner == "human" else "ai",
            "fields": row.fields or {},
        }

    async def close(self) -> None:
        if self._service is not None:
            await self._service.stop()


class RemoteBackend:
    """A running service, over its HTTP API. Messages need a key with the channel role; the
    trace needs one with admin or qa (``GET /v1/contacts/{id}/conversation``)."""

    def __init__(self, url: str, key: str, channel: str, trace_key: str | None = None) -> None:
        self.channel = channel
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=120
        )
        self._trace_headers = {"Authorization": f"Bearer {trace_key or key}"}

    async def send(self, contact: str, text: str) -> dict[str, Any]:
        response = await self._http.post("/v1/messages", json=_message(contact, text, self.channel))
        if response.status_code != 200:
            raise ChatError(f"{response.status_code}: {_detail(response)}")
        body: dict[str, Any] = response.json()
        return body

    async def trace(self, turn_id: str, contact: str) -> dict[str, Any] | None:
        response = await self._http.get(
            f"/v1/contacts/{contact}/conversation", headers=self._trace_headers
        )
        if response.status_code in (401, 403):
            raise ChatError(
                "the trace needs a key with the admin or qa role: start with --admin-key KEY"
            )
        if response.status_code != 200:
            raise ChatError(f"{response.status_code}: {_detail(response)}")
        for entry in response.json().get("entries", []):
            turn = entry.get("turn")
            if turn and turn.get("turn_id") == turn_id:
                found: dict[str, Any] = turn
                return found
        return None

    async def contact(self, contact: str) -> dict[str, Any] | None:
        response = await self._http.get(f"/v1/contacts/{contact}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ChatError(f"{response.status_code}: {_detail(response)}")
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await self._http.aclose()


class ChatError(RuntimeError):
    """What the service answered instead of a reply, in words."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


# ------------------------------------------------------------------ rendering


def render_response(body: dict[str, Any]) -> list[str]:
    """The reply as the customer would see it, then what the agent did, one line each."""
    lines: list[str] = []
    reply = body.get("reply")
    if body.get("status") == "silent":
        lines.append("agent> (silent: a human owns this conversation)")
    elif reply:
        lines.append(f"agent> {reply['text']}")
    for action in body.get("actions", []):
        lines.append(f"  * {_action(action)}")
    usage = body.get("usage") or {}
    if usage:
        lines.append(
            f"  ({usage.get('brain')}, stage {body['contact']['lifecycle_stage']}, "
            f"{usage.get('model_calls', 0)} model call(s); /trace for details)"
        )
    return lines


def _action(action: dict[str, Any]) -> str:
    kind = action.get("type")
    if kind == "lifecycle_stage_changed":
        return f"stage {action.get('from')} -> {action['to']} ({action['reason']})"
    if kind == "lead_lost":
        return f"marked lost: {action['stage']} ({action['reason']})"
    if kind == "handoff":
        return f"handed to {action['team']}: {action['summary']}"
    if kind == "fields_updated":
        return "fields: " + ", ".join(f"{k}={v}" for k, v in action["fields"].items())
    if kind == "callback_contact":
        return f"call-back details for {action['team']}: {action.get('phone') or action['email']}"
    return json.dumps(action, ensure_ascii=False)


def render_trace(trace: dict[str, Any]) -> list[str]:
    prompts = trace.get("prompt_version") or ", ".join(
        f"{k}@{v}" for k, v in (trace.get("prompt_versions") or {}).items()
    )
    lines = [
        f"brain {trace.get('brain')}, model {trace.get('model')}, prompts {prompts}, "
        f"{trace.get('latency_ms', 0):.0f} ms, {trace.get('model_calls', 0)} model call(s), "
        f"tokens in/out {trace.get('input_tokens', 0)}/{trace.get('output_tokens', 0)}",
        f"retrieval: {trace.get('retrieval') or 'not searched'}",
    ]
    for hit in trace.get("retrieved") or []:
        score = hit.get("score")
        shown = f"{score:.3f}" if isinstance(score, int | float) else "?"
        lines.append(f"  {shown}  {hit.get('question') or hit.get('id') or hit.get('entry_id')}")
    for call in trace.get("tool_calls") or []:
        status = call.get("decision") or call.get("status")
        why = call.get("reason") or call.get("result") or ""
        args = json.dumps(call.get("args", {}), ensure_ascii=False)
        lines.append(f"  tool {call.get('name')} {args} -> {status}{': ' + why if why else ''}")
    if trace.get("error"):
        lines.append(f"  error: {trace['error']}")
    return lines


def render_contact(contact: dict[str, Any] | None) -> list[str]:
    if contact is None:
        return ["no contact yet: say something first"]
    stage = contact.get("lifecycle_stage")
    lost = f", lost ({contact.get('lost_reason')})" if contact.get("lost") else ""
    owner = contact.get("owner", "ai")
    fields = ", ".join(f"{k}={v}" for k, v in (contact.get("fields") or {}).items()) or "none"
    return [f"stage {stage}{lost}, owner {owner}, fields: {fields}"]


# ------------------------------------------------------------------ the session


@dataclass
class Session:
    """A conversation: the contact it speaks as and the last turn, for ``/trace``."""

    backend: Backend
    contact: str
    out: Callable[[str], None]
    raw: bool = False  # print each response as its JSON instead of text
    last: dict[str, Any] = field(default_factory=dict)

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False to end the session."""
        text = line.strip()
        if not text:
            return True
        try:
            return await self._handle(text)
        except (ChatError, httpx.HTTPError) as exc:
            self.out(f"error: {exc}")
            return True

    async def _handle(self, text: str) -> bool:
        command = text.split()[0].lower()
        if command in ("/quit", "/exit"):
            return False
        if command == "/help":
            self.out(HELP)
        elif command == "/reset":
            self.contact = f"cli-{uuid.uuid4().hex[:8]}"
            self.last = {}
            self.out(f"new conversation as contact {self.contact}")
        elif command == "/stage":
            for line in render_contact(await self.backend.contact(self.contact)):
                self.out(line)
        elif command == "/trace":
            turn_id = self.last.get("turn_id")
            trace = await self.backend.trace(turn_id, self.contact) if turn_id else None
            lines = render_trace(trace) if trace else ["no turn to trace yet"]
            for line in lines:
                self.out(line)
        elif command.startswith("/"):
            self.out(f"unknown command {command}. {HELP}")
        else:
            self.last = await self.backend.send(self.contact, text)
            if self.raw:
                self.out(json.dumps(self.last, ensure_ascii=False, indent=2))
                return True
            for line in render_response(self.last):
                self.out(line)
        return True


async def converse(session: Session, read: Callable[[str], str]) -> None:
    """Read lines until /quit or end of input; one backend for the whole session."""
    out, contact = session.out, session.contact
    out(f"talking as contact {contact}. {HELP}")
    while True:
        try:
            line = await asyncio.to_thread(read, "you> ")
        except (EOFError, KeyboardInterrupt):
            break
        if not await session.handle(line):
            break
