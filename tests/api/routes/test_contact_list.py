"""GET /v1/contacts over a real socket: pages, filters, search, roles, isolation, bad input.

The service runs under uvicorn on 127.0.0.1 (tests/reliability/harness.py) with its real
storage (SQLite, or PostgreSQL when AGENT_SERVICE_TEST_POSTGRES_URL is set); contacts are made
by posting messages the offline planner answers, and by conversation events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, CHANNEL, QA, TickingClock, message
from tests.reliability.harness import live_server

BOOTSTRAP = {"Authorization": "Bearer test-bootstrap-key-0001"}


@pytest.fixture
def http(data_dir: Path) -> Iterator[httpx.Client]:
    with (
        live_server(data_dir, clock=TickingClock()) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        yield client


def post(http: httpx.Client, text: str, headers: dict[str, str] = CHANNEL, **kw: Any) -> Any:
    source = kw.pop("source", None)
    email = kw.pop("email", None)
    phone = kw.pop("phone", None)
    body = message(text, **kw)
    body["source"] = source
    if email:
        body["contact"]["email"] = email
    if phone:
        body["contact"]["phone"] = phone
    response = http.post("/v1/messages", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def event(http: httpx.Client, contact: str, **body: Any) -> None:
    response = http.post(f"/v1/contacts/{contact}/events", json=body, headers=CHANNEL)
    assert response.status_code == 200, response.text


def page(http: httpx.Client, headers: dict[str, str] = ADMIN, **params: Any) -> dict[str, Any]:
    response = http.get("/v1/contacts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(http: httpx.Client, headers: dict[str, str] = ADMIN, **params: Any) -> list[str]:
    """Every contact id the list gives for these filters, following the cursors."""
    ids: list[str] = []
    cursor = None
    while True:
        body = page(http, headers, **params, **({"cursor": cursor} if cursor else {}))
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


def test_pages_list_every_contact_once_while_messages_arrive(http: httpx.Client) -> None:
    for i in range(7):
        post(http, "Hello", contact=f"p-{i}")
    first = page(http, limit=3)
    assert [c["id"] for c in first["items"]] == ["p-6", "p-5", "p-4"]
    times = [c["last_message_at"] for c in first["items"]]
    assert times == sorted(times, reverse=True)

    # Between pages: a contact not listed yet writes (it would jump above the cursor), a
    # listed one writes (it would come round again), and a new contact appears.
    moved = post(http, "Are you open on Sunday?", contact="p-1")
    post(http, "Still there?", contact="p-5")
    post(http, "Hi, I am new", contact="p-new")

    second = page(http, limit=3, cursor=first["next_cursor"])
    assert [c["id"] for c in second["items"]] == ["p-3", "p-2", "p-1"]
    # What an item shows is read with its page: p-1's newest message.
    p1 = second["items"][2]
    assert p1["last_message_text"] == moved["reply"]["text"][:200]
    third = page(http, limit=3, cursor=second["next_cursor"])
    assert [c["id"] for c in third["items"]] == ["p-0"] and third["next_cursor"] is None

    walked = [c["id"] for body in (first, second, third) for c in body["items"]]
    assert sorted(walked) == sorted(f"p-{i}" for i in range(7)), "no duplicate, no gap"
    # A new first page sees the newest order, the new contact included.
    assert listed(http, limit=2)[:3] == ["p-new", "p-5", "p-1"]


def test_each_item_says_who_where_and_the_last_message(http: httpx.Client) -> None:
    answer = post(
        http,
        "How much is teeth whitening?",
        contact="i-1",
        channel="messenger",
        source={"campaign": "tet-2027"},
        email="lan@example.com",
    )
    [item] = page(http, q="lan@example")["items"]
    messages = http.get("/v1/contacts/i-1/messages", headers=ADMIN).json()
    assert item["id"] == "i-1" and item["name"] == "Lan" and item["email"] == "lan@example.com"
    assert item["channel"] == "messenger" and item["campaign"] == "tet-2027"
    assert item["owner"] == "ai" and item["team"] is None and item["lost"] is False
    assert item["lifecycle_stage"] == "New Lead"
    assert item["last_message_text"] == answer["reply"]["text"][:200]
    assert len(item["last_message_text"]) <= 200
    assert item["last_message_at"] == messages[-1]["created_at"]


def test_filters_combine_with_and(http: httpx.Client) -> None:
    post(http, "Hello", contact="f-hot")
    event(http, "f-hot", type="stage_set_by_human", event_id="e1", stage="Hot Lead")
    post(http, "Hello", contact="f-lost")
    event(http, "f-lost", type="stage_set_by_human", event_id="e2", stage="Cold Lead", reason="no")
    handed = post(http, "I want to talk to a real person", contact="f-handoff", locale="en")
    [team] = [a["team"] for a in handed["actions"] if a["type"] == "handoff"]
    post(http, "Hello", contact="f-assigned")
    event(http, "f-assigned", type="human_assigned", event_id="e3", team=team)
    post(http, "Hello", contact="f-line", channel="line")
    post(http, "Hello", contact="f-camp", source={"campaign": "tet-2027"})
    post(http, "Hello", contact="f-camp-line", channel="line", source={"campaign": "tet-2027"})
    everyone = set(listed(http))
    teams = http.get("/v1/teams", headers=ADMIN).json()
    [team_id] = [t["id"] for t in teams if t["key"] == team]

    assert listed(http, stage="Hot Lead") == ["f-hot"]
    assert listed(http, lost="true") == ["f-lost"]
    assert set(listed(http, lost="false")) == everyone - {"f-lost"}
    assert set(listed(http, owner="human")) == {"f-handoff", "f-assigned"}
    assert set(listed(http, owner="ai")) == everyone - {"f-handoff", "f-assigned"}
    assert listed(http, team=team) == ["f-handoff"] == listed(http, team=team_id)
    [handoff_item] = page(http, team=team)["items"]
    assert handoff_item["team"] == team and handoff_item["owner"] == "human"
    assert set(listed(http, channel="line")) == {"f-line", "f-camp-line"}
    assert set(listed(http, campaign="tet-2027")) == {"f-camp", "f-camp-line"}
    assert listed(http, channel="line", campaign="tet-2027") == ["f-camp-line"]
    assert listed(http, channel="line", campaign="tet-2027", owner="human") == []
    assert listed(http, stage="New Lead", channel="line", limit=1) == ["f-camp-line", "f-line"]
    # Giving the handoff back releases its team.
    event(http, "f-handoff", type="human_released", event_id="e4")
    assert listed(http, team=team) == []


def test_search_finds_names_phones_and_emails_in_any_case_and_script(http: httpx.Client) -> None:
    post(http, "Xin chào", contact="s-vi", name="Nguyễn Thị Ánh", phone="+84909111222")
    post(http, "สวัสดีค่ะ", contact="s-th", name="สมชาย ใจดี", phone="+66812345678")
    post(http, "Hello", contact="s-en", name="Lan", email="Lan.Tran@Example.COM", phone=None)
    post(http, "Hello", contact="s-odd", name="100% Ánh_Dương")

    assert listed(http, q="NGUYỄN THỊ") == ["s-vi"]
    assert set(listed(http, q="ánh")) == {"s-vi", "s-odd"}
    assert listed(http, q="ÁNH_") == ["s-odd"], "_ is a character, not a wildcard"
    assert listed(http, q="100%") == ["s-odd"], "% is a character, not a wildcard"
    assert listed(http, q="%") == ["s-odd"]
    assert listed(http, q="ใจดี") == ["s-th"]
    assert listed(http, q="lan.tran@example.com") == ["s-en"]
    assert listed(http, q="909111") == ["s-vi"]
    assert listed(http, q="nguyen") == [], "case-insensitive, not accent-insensitive"
    assert listed(http, q="Ánh", owner="human") == []


def test_roles_and_workspace_isolation(http: httpx.Client) -> None:
    post(http, "Hello", contact="a-1")
    other = http.post("/v1/workspaces", json={"name": "B"}, headers=BOOTSTRAP).json()
    b_admin = {"Authorization": f"Bearer {other['admin_key']['key']}"}
    made = http.post(
        f"/v1/workspaces/{other['id']}/keys", json={"roles": ["channel"]}, headers=b_admin
    ).json()
    b_channel = {"Authorization": f"Bearer {made['key']}"}
    post(http, "Hello from B", headers=b_channel, contact="b-1")

    assert listed(http) == ["a-1"]
    assert listed(http, QA) == ["a-1"]
    assert listed(http, b_admin) == ["b-1"]
    assert listed(http, b_admin, q="Lan") == ["b-1"]
    for path in ("/v1/contacts", "/v1/contacts/a-1/conversation"):
        assert http.get(path, headers=CHANNEL).status_code == 403
        assert http.get(path).status_code == 401
    assert http.get("/v1/contacts/a-1/conversation", headers=QA).status_code == 200
    hidden = http.get("/v1/contacts/a-1/conversation", headers=b_admin)
    assert hidden.status_code == 404 and "a-1" in hidden.json()["detail"]

    # A cursor names a place in its own workspace's list only.
    post(http, "Hello", contact="a-2")
    cursor = page(http, limit=1)["next_cursor"]
    assert cursor is not None
    refused = http.get("/v1/contacts", params={"cursor": cursor}, headers=b_admin)
    assert refused.status_code == 422 and refused.json()["detail"].startswith("cursor")


BAD_PARAMETERS: list[tuple[dict[str, Any], str]] = [
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"lost": "maybe"}, "lost"),
    ({"owner": "robot"}, "owner"),
    ({"stage": "No Such Stage"}, "stage"),
    ({"team": "no-such-team"}, "team"),
    ({"q": ""}, "q"),
    ({"q": "x" * 201}, "q"),
    ({"cursor": "not-a-cursor"}, "cursor"),
]


def test_bad_parameters_are_422_naming_the_parameter(http: httpx.Client) -> None:
    for params, named in BAD_PARAMETERS:
        response = http.get("/v1/contacts", params=params, headers=ADMIN)
        assert response.status_code == 422, (params, response.text)
        detail = response.json()["detail"]
        if isinstance(detail, list):  # the request's own validation: one problem a parameter
            assert [problem["loc"] for problem in detail] == [["query", named]], params
        else:
            assert detail.startswith(f"{named}:"), (params, detail)


def test_an_altered_cursor_is_422(http: httpx.Client) -> None:
    for i in range(3):
        post(http, "Hello", contact=f"t-{i}")
    cursor = page(http, limit=1)["next_cursor"]
    assert cursor is not None
    assert len(page(http, limit=1, cursor=cursor)["items"]) == 1
    for altered in (cursor[:-2], cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]):
        response = http.get("/v1/contacts", params={"cursor": altered}, headers=ADMIN)
        assert response.status_code == 422, altered
        assert response.json()["detail"].startswith("cursor:")
