"""Every input is stored as both databases can store it, or refused with a 4xx naming the field.

The same on SQLite and PostgreSQL (CI runs this file on both): a NUL character, a lone
surrogate, NaN/Infinity, a date-time without a time zone, an explicit null for a field that
cannot be empty, a chunked body over the limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN, CHANNEL, ClientFactory, message, send

JSON = {"Content-Type": "application/json", **CHANNEL}


def _raw(client: TestClient, body: str, headers: dict[str, str] = JSON) -> Any:
    return client.post("/v1/messages", content=body.encode(), headers=headers)


@pytest.mark.parametrize(
    ("field", "raw", "says"),
    [
        ("text", '"hello \\u0000 there"', "text contains a NUL character"),
        ("text", '"price \\ud800?"', "text contains a lone UTF-16 surrogate"),
        ("name", '"Lan\\u0000"', "contact.name contains a NUL character"),
        ("source", '{"campaign": "nov", "bid": NaN}', "holds NaN"),
        ("source", '{"bid": Infinity}', "holds Infinity"),
        ("source", '{"campaign\\u0000": "x"}', "has a key that contains a NUL character"),
    ],
    ids=["nul", "surrogate", "nul-in-name", "nan", "infinity", "nul-in-key"],
)
def test_text_no_database_can_store_is_refused_with_the_field(
    client: TestClient, field: str, raw: str, says: str
) -> None:
    body = message("placeholder", contact="in-1")
    text = json.dumps(body)
    if field == "name":
        text = text.replace('"Lan"', raw)
    elif field == "source":
        text = text[:-1] + f', "source": {raw}}}'
    else:
        text = text.replace('"placeholder"', raw)
    refused = _raw(client, text)
    assert refused.status_code == 422, refused.text
    assert says in refused.json()["detail"][0]["msg"]
    # Nothing was stored: the same message id with clean text is a new message, answered.
    clean = client.post("/v1/messages", json={**body, "text": "hello"}, headers=CHANNEL)
    assert clean.status_code == 200 and clean.json()["status"] == "replied"


def test_a_query_string_with_a_nul_is_refused(client: TestClient) -> None:
    refused = client.get("/v1/knowledge/entries?q=a%00b", headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "q"]


def test_a_date_time_without_a_time_zone_is_refused(client: TestClient) -> None:
    naive = client.post(
        "/v1/messages", json=message("hi", sent_at="2026-11-22T06:00:00"), headers=CHANNEL
    )
    assert naive.status_code == 422
    assert "sent_at needs a time zone" in json.dumps(naive.json())


def test_a_chunked_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 500

    with make_client(max_request_bytes=2000) as client:
        too_large = client.post("/v1/messages", content=chunks(), headers=JSON)
        assert too_large.status_code == 413
        assert "larger than 2000 bytes" in too_large.json()["detail"]
        assert send(client, "still answering")["status"] == "replied"


def _first(client: TestClient, path: str, key: str) -> dict[str, Any]:
    found = client.get(path, headers=ADMIN).json()
    rows: list[dict[str, Any]] = found[key] if key else found
    return rows[0]


@pytest.mark.parametrize(
    ("path", "listing", "key", "change"),
    [
        ("/v1/stages", "/v1/stages", "", {"requires_approval": None}),
        ("/v1/stages", "/v1/stages", "", {"name": None}),
        ("/v1/teams", "/v1/teams", "", {"fallback": None}),
        ("/v1/qualification/fields", "/v1/qualification", "fields", {"required": None}),
        ("/v1/qualification/fields", "/v1/qualification", "fields", {"choices": None}),
    ],
    ids=["stage-approval", "stage-name", "team-fallback", "field-required", "field-choices"],
)
def test_an_explicit_null_for_a_field_that_cannot_be_empty_is_refused(
    client: TestClient, path: str, listing: str, key: str, change: dict[str, Any]
) -> None:
    row = _first(client, listing, key)
    refused = client.patch(f"{path}/{row['id']}", json=change, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    name = next(iter(change))
    assert f"'{name}' cannot be null" in json.dumps(refused.json())
    assert _first(client, listing, key) == row  # nothing changed


def test_the_published_schema_allows_null_only_where_it_clears(client: TestClient) -> None:
    """Clients and schema-driven fuzzers read the contract from /openapi.json: a partial update
    field that refuses null must not be published as nullable."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for model, refuses, clears in [
        ("StageUpdate", "requires_approval", None),
        ("TeamUpdate", "fallback", None),
        ("FieldUpdate", "required", None),
        ("EntryUpdate", "question", "valid_until"),
        ("DeliveryUpdate", None, "callback_url"),
    ]:
        properties = schemas[model]["properties"]
        if refuses:
            assert "null" not in json.dumps(properties[refuses]), (model, refuses)
        if clears:
            assert {"type": "null"} in properties[clears]["anyOf"], (model, clears)


def test_null_still_clears_what_can_be_cleared(client: TestClient) -> None:
    entry = {
        "question": "Is there parking?",
        "answer": "Yes, two hours free.",
        "language": "en",
        "valid_until": "2030-01-01",
    }
    created = client.post("/v1/knowledge/entries", json=entry, headers=ADMIN).json()
    cleared = client.put(
        f"/v1/knowledge/entries/{created['id']}", json={"valid_until": None}, headers=ADMIN
    )
    assert cleared.status_code == 200 and cleared.json()["valid_until"] is None
