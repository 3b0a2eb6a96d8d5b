"""Synthetic history for trying the reports: contacts arriving from campaigns on several
channels over months, conversations, AI and human stage moves, handoffs, lost marks and
conversions with value. Deterministic for a seed; written with bulk core inserts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.core.search import contact_search_text
from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.lifecycle.stays import Change, stays_of
from agent_service.reports.sources import first_reply
from agent_service.schemas.brains import LLM

CAMPAIGNS = [
    ("fb-lead-ads-facial", "messenger", 0.22),
    ("ctwa-laser-promo", "whatsapp", 0.25),
    ("ig-reels-acne", "instagram", 0.15),
    ("tiktok-peel-challenge", "tiktok", 0.13),
    ("line-membership-th", "line", 0.08),
    (None, "webchat", 0.17),  # organic
]
LANGUAGES = [
    ("en", "MYR", 350.0),
    ("vi", "VND", 2_500_000.0),
    ("th", "THB", 3_000.0),
    ("ms", "MYR", 300.0),
]
SAYS = {
    "en": [
        "How much is the facial?",
        "Do you have slots this Saturday?",
        "I want to book",
        "ok thanks",
    ],
    "vi": [
        "Chăm sóc da mặt giá bao nhiêu?",
        "Thứ 7 còn lịch không ạ?",
        "Mình muốn đặt lịch",
        "ok cảm ơn",
    ],
    "th": ["ทำหน้าราคาเท่าไหร่คะ", "เสาร์นี้ว่างไหมคะ", "อยากจองค่ะ", "โอเค ขอบคุณค่ะ"],
    "ms": [
        "Berapa harga rawatan muka?",
        "Ada slot Sabtu ini?",
        "Saya nak buat tempahan",
        "ok terima kasih",
    ],
}
REPLY = "Thanks for your message! Which branch would suit you?"
LOST_REASONS = {
    "Cold Lead": [
        ("system", "no reply after 2 follow-up(s)"),
        ("ai", "the customer is no longer interested"),
    ],
    "Unqualified": [("ai", "unrelated or spam message"), ("human", "outside our service area")],
    "Lost to Competitor": [
        ("ai", "the customer bought or booked elsewhere"),
        ("human", "cheaper offer elsewhere"),
    ],
}
HANDOFF_REASONS = [
    ("sales", "the lead is qualified (service, branch, preferred_date)", 0.6),
    ("support", "the customer asked to talk to a person", 0.25),
    ("support", "the knowledge base has no answer to the question", 0.15),
]
TABLES = (
    "contacts",
    "contact_sources",
    "messages",
    "turns",
    "stage_changes",
    "stage_stays",
    "handoffs",
    "conversions",
)


@dataclass
class HistoryShape:
    contacts: int
    months: int
    messages_per_contact: float = 10.0
    seed: int = 7


@dataclass
class _Rows:
    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )
    written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))


class _Ids:
    """Increasing ids: appending to the B-trees is far faster than inserting at random keys."""

    def __init__(self, tag: str) -> None:
        self.tag, self.counter = tag, 0

    def __call__(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.tag}{self.counter:010x}"


async def generate_history(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    lifecycle: Lifecycle,
    shape: HistoryShape,
    end: datetime,
    batch_messages: int = 50_000,
) -> dict[str, int]:
    """Fill the workspace; returns how many rows went into each table."""
    rng = random.Random(shape.seed)
    ids = _Ids(f"{int(end.timestamp()):x}")  # a new run never collides with an earlier one
    rows = _Rows()
    start = end - timedelta(days=30 * shape.months)
    span = (end - start).total_seconds()
    for n in range(shape.contacts):
        created = start + timedelta(seconds=rng.random() * span * 0.97)
        _contact(rows, rng, ids, workspace_id, lifecycle, shape, n, created, end)
        if len(rows.tables["messages"]) >= batch_messages:
            await _flush(sessions, rows)
    await _flush(sessions, rows)
    return rows.written


async def _flush(sessions: async_sessionmaker[AsyncSession], rows: _Rows) -> None:
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(text("PRAGMA cache_size=-262144"))  # 256 MB for index pages
        for name in TABLES:  # parents first: the foreign keys are checked
            batch = rows.tables[name]
            if batch:
                table = models.Base.metadata.tables[name]
                await session.execute(insert(table), batch)
                rows.written[name] += len(batch)
                batch.clear()


def _pick(rng: random.Random, weighted: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(weighted, weights=[w[-1] for w in weighted])[0]


def _contact(
    rows: _Rows,
    rng: random.Random,
    ids: _Ids,
    ws: str,
    lifecycle: Lifecycle,
    shape: HistoryShape,
    n: int,
    created: datetime,
    end: datetime,
) -> None:
    campaign, channel, _ = _pick(rng, CAMPAIGNS)
    language, currency, price = rng.choice(LANGUAGES)
    contact_id = ids("ct")
    t = rows.tables
    active, lost = lifecycle.active, lifecycle.lost
    changes: list[tuple[datetime, str, str, str, str, str]] = [
        (created, "stage", active[0].name, "system", f"first message on {channel}", "")
    ]
    now, position, lost_stage, lost_reason = created, 0, None, None
    handoff: tuple[str, str, datetime] | None = None
    advance = [0.55, 0.45, 0.7, 0.5, 0.5]
    while position < len(active) - 1:
        now += timedelta(hours=rng.expovariate(1 / 20))
        if now >= end:
            break
        if rng.random() < advance[min(position, len(advance) - 1)]:
            position += 1
            stage = active[position]
            if stage.ai_settable:
                actor = "ai" if rng.random() < 0.85 else "human"
                event = ""
            else:
                actor = "system" if rng.random() < 0.7 else "human"
                event = "purchase_completed" if position == len(active) - 1 else "checkout_started"
            reason = "the customer wants to book" if actor == "ai" else f"conversion event {event}"
            changes.append(
                (now, "stage", stage.name, actor, reason, event if actor == "system" else "")
            )
            if position == 1 and handoff is None and rng.random() < 0.6:
                handoff = ("sales", HANDOFF_REASONS[0][1], now + timedelta(seconds=3))
            continue
        if rng.random() < 0.75 and lost:
            lost_stage = rng.choices(lost, weights=[0.6, 0.2, 0.2, 0.1, 0.1][: len(lost)])[0].name
            actor, lost_reason = rng.choice(LOST_REASONS.get(lost_stage, [("ai", "lost")]))
            changes.append((now, "lost", lost_stage, actor, lost_reason, ""))
        break
    if handoff is None and rng.random() < 0.12:
        team, reason, _ = _pick(rng, HANDOFF_REASONS[1:])
        handoff = (team, reason, created + timedelta(minutes=rng.uniform(1, 30)))
    last_at = max(changes[-1][0], created + timedelta(minutes=5))
    final = changes[-1][2]
    released = handoff is not None and rng.random() < 0.85
    t["contacts"].append(
        {
            "id": contact_id,
            "workspace_id": ws,
            "external_id": f"gen-{ids.tag}-{n:07d}",
            "name": f"Lead {n}",
            "phone": f"+6012{n:07d}",
            "email": None,
            "search_text": contact_search_text(f"Lead {n}", f"+6012{n:07d}", None),
            "locale": language,
            "language": language,
            "lifecycle_stage": final,
            "lost": lost_stage is not None,
            "lost_reason": lost_reason,
            "owner": "human" if handoff and not released else "ai",
            "assigned_to": handoff[0] if handoff else None,
            "fields": {},
            "pending_field": None,
            "created_at": created,
            "updated_at": min(last_at, end),
        }
    )
    t["contact_sources"].append(
        {
            "contact_id": contact_id,
            "workspace_id": ws,
            "channel": channel,
            "campaign": campaign,
            "first_message_at": created,
        }
    )
    previous: str | None = None
    stays: list[Change] = []
    for at, kind, to_stage, actor, reason, event in changes:
        stays.append(Change(ids("sc"), ws, contact_id, kind, to_stage, actor, at))
        t["stage_changes"].append(
            {
                "id": stays[-1].id,
                "workspace_id": ws,
                "contact_id": contact_id,
                "kind": kind,
                "from_stage": previous,
                "to_stage": to_stage,
                "actor": actor,
                "reason": reason,
                "evidence": f"event {event}" if event else "",
                "confidence": 0.9 if actor == "ai" else None,
                "prompt_version": "phrases@1+system@1" if actor == "ai" else None,
                "model": "gpt-4o-mini" if actor == "ai" else None,
                "turn_id": None,
                "created_at": at,
            }
        )
        previous = to_stage
        if event:
            t["conversions"].append(
                {
                    "id": ids("cv"),
                    "workspace_id": ws,
                    "contact_id": contact_id,
                    "event_id": ids("evt"),
                    "type": event,
                    "value": round(price * rng.uniform(0.5, 3.0), 2)
                    if event == "purchase_completed"
                    else None,
                    "currency": currency if event == "purchase_completed" else None,
                    "channel": channel,
                    "campaign": campaign,
                    "occurred_at": at,
                    "created_at": at,
                }
            )
    # The report roll-ups the ORM writers get from the flush hook (report_rollups).
    t["stage_stays"].extend(stays_of(sorted(stays, key=lambda c: (c.created_at, c.id))))
    if handoff is not None:
        team, reason, at = handoff
        t["handoffs"].append(
            {
                "id": ids("ho"),
                "workspace_id": ws,
                "contact_id": contact_id,
                "team": team,
                "reason": reason,
                "summary": f"Lead {n} ({language}): {reason}",
                "turn_id": None,
                "created_at": at,
                "released_at": at + timedelta(hours=rng.uniform(1, 48)) if released else None,
                "minutes_after_first_message": (at - created).total_seconds() / 60,
            }
        )
    replied = _messages(
        rows, rng, ids, ws, contact_id, channel, campaign, language, shape, created, last_at, end
    )
    t["contact_sources"][-1].update(first_reply(created, replied))


def _messages(
    rows: _Rows,
    rng: random.Random,
    ids: _Ids,
    ws: str,
    contact_id: str,
    channel: str,
    campaign: str | None,
    language: str,
    shape: HistoryShape,
    created: datetime,
    last_at: datetime,
    end: datetime,
) -> datetime | None:
    """The conversation's messages and turns; returns when the first reply went out."""
    t = rows.tables
    first_reply_at: datetime | None = None
    pairs = max(1, round(rng.gauss(shape.messages_per_contact, shape.messages_per_contact / 3) / 2))
    gap = (last_at - created) / pairs
    says = SAYS[language]
    for i in range(pairs):
        at = created + gap * i
        if at >= end:
            break
        inbound, turn_id = ids("msg"), ids("turn")
        latency = rng.lognormvariate(6.8, 0.35)  # about 900 ms
        replied = at + timedelta(milliseconds=latency)
        first_reply_at = first_reply_at or replied
        t["messages"].append(
            {
                "id": inbound,
                "workspace_id": ws,
                "contact_id": contact_id,
                "direction": "in",
                "channel": channel,
                "channel_message_id": ids("wamid"),
                "text": says[i % len(says)],
                "language": language,
                "sent_at": at,
                "source": {"campaign": campaign} if i == 0 and campaign else None,
                "status": "processed",
                "response": None,
                "turn_id": turn_id,
                "created_at": at,
            }
        )
        t["messages"].append(
            {
                "id": ids("msg"),
                "workspace_id": ws,
                "contact_id": contact_id,
                "direction": "out",
                "channel": channel,
                "channel_message_id": None,
                "text": REPLY,
                "language": language,
                "sent_at": replied,
                "source": None,
                "status": "processed",
                "response": None,
                "turn_id": turn_id,
                "created_at": replied,
            }
        )
        t["turns"].append(
            {
                "id": turn_id,
                "workspace_id": ws,
                "contact_id": contact_id,
                "inbound_message_id": inbound,
                "brain": LLM,
                "model": "gpt-4o-mini",
                "prompt_version": "phrases@1+system@1",
                "model_calls": 1,
                "input_tokens": 900,
                "output_tokens": 60,
                "latency_ms": round(latency, 1),
                "retrieved": [],
                "tool_calls": [],
                "error": None,
                "created_at": replied,
            }
        )
    return first_reply_at
