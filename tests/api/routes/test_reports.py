"""GET /v1/reports/*: figures checked against a small hand-built history."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_service.db import models
from tests.conftest import ADMIN, CHANNEL, ClientFactory

WS = "ws_demo"
T = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)
NOV = "from=2026-11-01&to=2026-11-30"


def build_history(sessions: Any) -> Any:
    """Six contacts; A-D start in November, E in October, F in December (see each line)."""

    async def insert() -> None:
        rows: list[Any] = []
        n = 0

        def uid(prefix: str) -> str:
            nonlocal n
            n += 1
            return f"{prefix}_{n:04d}"

        def contact(key: str, stage: str, created: datetime, lost: bool = False) -> str:
            cid = f"ct_{key}"
            rows.append(
                models.Contact(
                    id=cid, workspace_id=WS, external_id=key, name=key, lifecycle_stage=stage,
                    lost=lost, owner="ai", fields={}, created_at=created, updated_at=created,
                )
            )  # fmt: skip
            return cid

        def conversation(cid: str, at: datetime, channel: str, campaign: str | None,
                         reply_after: timedelta, latency_ms: float) -> None:  # fmt: skip
            turn = uid("turn")
            for direction, when in (("in", at), ("out", at + reply_after)):
                rows.append(
                    models.Message(
                        id=uid("msg"), workspace_id=WS, contact_id=cid, direction=direction,
                        channel=channel, channel_message_id=uid("w") if direction == "in" else None,
                        text="hi", sent_at=when, status="processed", turn_id=turn, created_at=when,
                        source={"campaign": campaign} if campaign and direction == "in" else None,
                    )
                )  # fmt: skip
            rows.append(
                models.Turn(
                    id=turn, workspace_id=WS, contact_id=cid, inbound_message_id="x",
                    brain="llm", model="m", prompt_version="p", latency_ms=latency_ms,
                    created_at=at + reply_after,
                )
            )  # fmt: skip

        def change(cid: str, at: datetime, to: str, actor: str, kind: str = "stage",
                   reason: str = "") -> None:  # fmt: skip
            rows.append(
                models.StageChange(
                    id=uid("sc"), workspace_id=WS, contact_id=cid, kind=kind, to_stage=to,
                    actor=actor, reason=reason, created_at=at,
                )
            )  # fmt: skip

        def conversion(cid: str, at: datetime, kind: str, value: float | None, channel: str,
                       campaign: str) -> None:  # fmt: skip
            rows.append(
                models.Conversion(
                    id=uid("cv"), workspace_id=WS, contact_id=cid, event_id=uid("e"), type=kind,
                    value=value, currency="MYR" if value else None, channel=channel,
                    campaign=campaign, occurred_at=at, created_at=at,
                )
            )  # fmt: skip

        def handoff(cid: str, at: datetime, team: str, reason: str) -> None:
            rows.append(
                models.Handoff(
                    id=uid("ho"), workspace_id=WS, contact_id=cid, team=team, reason=reason,
                    summary="s", created_at=at,
                )
            )  # fmt: skip

        # A: whatsapp/ctwa, walks the whole funnel, handed to sales when qualified.
        a = contact("A", "Customer", T)
        conversation(a, T, "whatsapp", "ctwa", 2 * S, 800)
        change(a, T, "New Lead", "system")
        change(a, T + 2 * H, "Hot Lead", "ai")
        handoff(a, T + 2 * H + S, "sales", "the lead is qualified (service=facial)")
        change(a, T + 26 * H, "Payment", "system")
        conversion(a, T + 26 * H, "checkout_started", None, "whatsapp", "ctwa")
        change(a, T + 50 * H, "Customer", "system")
        conversion(a, T + 50 * H, "purchase_completed", 100, "whatsapp", "ctwa")
        # B: whatsapp/ctwa, a person makes it hot, then it goes cold after follow-ups.
        b = contact("B", "Cold Lead", T + 24 * H, lost=True)
        conversation(b, T + 24 * H, "whatsapp", "ctwa", 4 * S, 1200)
        change(b, T + 24 * H, "New Lead", "system")
        change(b, T + 28 * H, "Hot Lead", "human")
        change(b, T + 76 * H, "Cold Lead", "system", "lost", "no reply after 2 follow-up(s)")
        # C: messenger/fb, spam.
        c = contact("C", "Unqualified", T + 48 * H, lost=True)
        conversation(c, T + 48 * H, "messenger", "fb", S, 600)
        change(c, T + 48 * H, "New Lead", "system")
        change(c, T + 49 * H, "Unqualified", "ai", "lost", "unrelated or spam message")
        # D: messenger/fb, hot then buys straight away (skips Payment), never handed off.
        d = contact("D", "Customer", T + 72 * H)
        conversation(d, T + 72 * H, "messenger", "fb", 3 * S, 900)
        change(d, T + 72 * H, "New Lead", "system")
        change(d, T + 73 * H, "Hot Lead", "ai")
        change(d, T + 97 * H, "Customer", "system")
        conversion(d, T + 97 * H, "purchase_completed", 200, "messenger", "fb")
        # E: webchat, started in October, hot and handed to support in November.
        october = datetime(2026, 10, 15, 10, 0, tzinfo=UTC)
        e = contact("E", "Hot Lead", october)
        conversation(e, october, "webchat", None, 10 * S, 700)
        change(e, october, "New Lead", "system")
        change(e, datetime(2026, 11, 5, 10, 0, tzinfo=UTC), "Hot Lead", "ai")
        handoff(e, datetime(2026, 11, 5, 10, 0, 10, tzinfo=UTC), "support",
                "the customer asked to talk to a person")  # fmt: skip
        # F: December, outside the period.
        december = datetime(2026, 12, 5, tzinfo=UTC)
        f = contact("F", "New Lead", december)
        conversation(f, december, "webchat", None, S, 500)
        change(f, december, "New Lead", "system")
        async with sessions() as session, session.begin():
            session.add_all([r for r in rows if isinstance(r, models.Contact)])
            await session.flush()
            session.add_all([r for r in rows if not isinstance(r, models.Contact)])

    return insert


@pytest.fixture
def reports(make_client: ClientFactory) -> Iterator[TestClient]:
    with make_client(followup_poll_seconds=0) as client:
        sessions = client.app_state.deps.sessions  # type: ignore[attr-defined]
        client.portal.call(build_history(sessions))  # type: ignore[union-attr]
        yield client


def get(client: TestClient, path: str, **headers: str) -> Any:
    response = client.get(f"/v1/reports/{path}", headers={**ADMIN, **headers})
    assert response.status_code == 200, response.text
    return response.json() if "json" in response.headers["content-type"] else response.text


def test_funnel_counts_conversion_and_time_in_stage(reports: TestClient) -> None:
    stages = {s["stage"]: s for s in get(reports, f"funnel?{NOV}")["stages"]}
    assert [(s["entered"], s["reached_next"], s["conversion_rate"]) for s in stages.values()] == [
        (4, 3, 0.75),  # A B C D entered; A B D went on
        (4, 2, 0.5),  # A B D E; A (Payment) and D (Customer, skipping Payment)
        (1, 1, 1.0),
        (2, 0, None),
    ]
    assert (
        stages["New Lead"]["median_hours_in_stage"],
        stages["New Lead"]["p90_hours_in_stage"],
    ) == (
        1.5,
        3.4,
    )  # stays of 2, 4, 1, 1 hours
    assert stages["Hot Lead"]["median_hours_in_stage"] == 24.0  # 24, 48, 24; E still there
    assert stages["Hot Lead"]["p90_hours_in_stage"] == 43.2
    assert stages["Customer"]["median_hours_in_stage"] is None


def test_funnel_filters_by_channel_campaign_and_team(reports: TestClient) -> None:
    def entered(query: str) -> list[int]:
        return [s["entered"] for s in get(reports, f"funnel?{NOV}&{query}")["stages"]]

    assert entered("channel=whatsapp") == [2, 2, 1, 1]
    assert entered("campaign=fb") == [2, 1, 0, 1]
    assert entered("team=sales") == [1, 1, 1, 1]


def test_lost_report_stands_apart(reports: TestClient) -> None:
    lost = get(reports, f"lost?{NOV}")
    assert lost["total"] == 2
    assert {(s["stage"], s["count"]) for s in lost["by_stage"]} == {
        ("Cold Lead", 1),
        ("Unqualified", 1),
    }
    assert {(r["stage"], r["reason"]) for r in lost["rows"]} == {
        ("Cold Lead", "no reply after 2 follow-up(s)"),
        ("Unqualified", "unrelated or spam message"),
    }
    assert lost["over_time"] == [
        {"month": "2026-11", "stage": "Cold Lead", "count": 1},
        {"month": "2026-11", "stage": "Unqualified", "count": 1},
    ]


def test_ai_vs_human(reports: TestClient) -> None:
    report = get(reports, f"ai-vs-human?{NOV}")
    counts = {(c["actor"], c["kind"]): c["count"] for c in report["stage_changes"]}
    assert counts == {
        ("ai", "lost"): 1,
        ("ai", "stage"): 3,
        ("human", "stage"): 1,
        ("system", "lost"): 1,
        ("system", "stage"): 7,
    }
    assert (report["contacts_started"], report["handed_off"], report["handoff_rate"]) == (
        4,
        1,
        0.25,
    )
    assert {(r["name"], r["count"]) for r in report["handoff_reasons"]} == {
        ("qualified", 1),
        ("customer_request", 1),
    }
    assert report["target_stage"] == "Customer"
    assert (report["ai_resolved"], report["ai_resolved_rate"]) == (1, 0.25)  # D only
    hot = get(reports, f"ai-vs-human?{NOV}&target_stage=Hot Lead")
    assert hot["ai_resolved"] == 2  # B and D: never handed off, reached Hot Lead or later


def test_speed(reports: TestClient) -> None:
    speed = get(reports, f"speed?{NOV}")
    assert speed["first_response_seconds"] == {"count": 4, "p50": 2.5, "p90": 3.7}
    assert speed["ai_reply_latency_ms"] == {"count": 4, "p50": 850.0, "p90": 1110.0}
    a_minutes, e_minutes = 120 + 1 / 60, (21 * 24 * 60) + 10 / 60
    handoff = speed["time_to_handoff_minutes"]
    assert handoff["count"] == 2
    assert handoff["p50"] == round((a_minutes + e_minutes) / 2, 2)


def test_attribution(reports: TestClient) -> None:
    report = get(reports, f"attribution?{NOV}")
    assert [
        (r["campaign"], r["channel"], r["type"], r["currency"], r["conversions"], r["value"])
        for r in report["conversions"]
    ] == [
        ("ctwa", "whatsapp", "checkout_started", None, 1, 0.0),
        ("ctwa", "whatsapp", "purchase_completed", "MYR", 1, 100.0),
        ("fb", "messenger", "purchase_completed", "MYR", 1, 200.0),
    ]
    assert {(lead["campaign"], lead["contacts"]) for lead in report["leads"]} == {
        ("ctwa", 2),
        ("fb", 2),
    }


def test_segments_and_csv_export(reports: TestClient) -> None:
    segments = get(reports, "segments")
    counts = {c["stage"]: c["contacts"] for c in segments["counts"]}
    assert counts == {
        "New Lead": 1,
        "Hot Lead": 1,
        "Payment": 0,
        "Customer": 2,
        "Cold Lead": 1,
        "Unqualified": 1,
        "Lost to Competitor": 0,
    }
    exported = get(reports, "segments?stage=customer&format=csv")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(r["id"] for r in rows) == ["A", "D"]
    assert {r["lifecycle_stage"] for r in rows} == {"Customer"}


def test_csv_by_accept_header_and_svg_charts(reports: TestClient) -> None:
    funnel_csv = get(reports, f"funnel?{NOV}", accept="text/csv")
    header, *lines = list(csv.reader(io.StringIO(funnel_csv)))
    assert header[:3] == ["stage", "entered", "reached_next"]
    assert lines[0][:4] == ["New Lead", "4", "3", "0.75"]
    for path in ("funnel", "lost"):
        svg = get(reports, f"{path}?{NOV}&format=svg")
        root = ET.fromstring(svg)  # well-formed
        assert root.tag.endswith("svg")
        texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
        assert ("Hot Lead" if path == "funnel" else "Cold Lead") in texts


def test_report_errors(reports: TestClient) -> None:
    assert reports.get("/v1/reports/funnel", headers=CHANNEL).status_code == 403
    svg = reports.get("/v1/reports/speed?format=svg", headers=ADMIN)
    assert svg.status_code == 422 and "charts exist for funnel and lost" in svg.json()["detail"]
    backwards = reports.get("/v1/reports/funnel?from=2026-12-01&to=2026-11-01", headers=ADMIN)
    assert backwards.status_code == 422
    for far in ("to=0001-01-01", "from=0001-01-01&to=0001-01-02", "from=9999-12-31"):
        out_of_range = reports.get(f"/v1/reports/segments?{far}", headers=ADMIN)
        assert out_of_range.status_code == 422, far
        assert "must be a day from 2000-01-01 to 2999-12-31" in out_of_range.json()["detail"]
    unknown = reports.get("/v1/reports/segments?stage=VIP", headers=ADMIN)
    assert unknown.status_code == 422


def test_team_filter_applies_to_the_handoff_figures_too(reports: TestClient) -> None:
    # It used to be a self-correlated EXISTS on the handoffs table, true for every handoff.
    speed = get(reports, f"speed?{NOV}&team=sales")
    assert speed["time_to_handoff_minutes"]["count"] == 1  # A's; E was handed to support
    ai = get(reports, f"ai-vs-human?{NOV}&team=support")
    assert [t["name"] for t in ai["handoffs_by_team"]] == ["support"]
