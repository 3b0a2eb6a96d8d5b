"""Every role against every endpoint: no key or a bad key gets 401, the wrong role 403."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, CHANNEL, QA, message

ENTRY = {"question": "q", "answer": "a", "language": "en"}
A, C, Q = "admin", "channel", "qa"
# (method, path, body, roles allowed). Ids that do not exist keep allowed calls harmless.
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/messages", message("hi", contact="roles"), {C}),
    ("GET", "/v1/contacts/nope", None, {C, A}),
    ("POST", "/v1/workspaces", {"name": "x"}, set()),  # the bootstrap key only: a platform call
    ("GET", "/v1/workspaces/ws_demo", None, {A}),
    ("POST", "/v1/workspaces/ws_demo/keys", {"roles": ["qa"]}, {A}),
    ("GET", "/v1/workspaces/ws_demo/keys", None, {A}),
    ("DELETE", "/v1/workspaces/ws_demo/keys/nope", None, {A}),
    ("GET", "/v1/workspaces/ws_demo/verified-facts", None, {A}),
    ("PUT", "/v1/workspaces/ws_demo/verified-facts", {"links": ["not a link"]}, {A}),
    ("POST", "/v1/knowledge/entries", ENTRY, {A}),
    ("GET", "/v1/knowledge/entries", None, {A, Q}),
    ("GET", "/v1/knowledge/entries/nope", None, {A, Q}),
    ("PUT", "/v1/knowledge/entries/nope", {"answer": "b"}, {A}),
    ("DELETE", "/v1/knowledge/entries/nope", None, {A}),
    ("POST", "/v1/knowledge/search", {"query": "price", "k": 1}, {A, Q}),
    ("POST", "/v1/knowledge/import", {"entries": [{"question": "only"}]}, {A}),
    ("POST", "/v1/knowledge/import/faq-json", [], {A}),
    ("GET", "/v1/knowledge/export", None, {A, Q}),
    ("POST", "/v1/knowledge/reindex", None, {A}),
    ("GET", "/v1/prompts", None, {A}),
    ("GET", "/v1/prompts/system/versions", None, {A}),
    ("POST", "/v1/prompts/system/versions", {"body": ""}, {A}),
    ("GET", "/v1/prompts/system/versions/99", None, {A}),
    ("GET", "/v1/prompts/system/diff?from=1&to=99", None, {A}),
    ("POST", "/v1/prompts/system/versions/99/activate", None, {A}),
    ("POST", "/v1/prompts/phrases/rollback", None, {A}),
    ("POST", "/v1/prompts/preview", {"drafts": {"system": ""}, "messages": ["hi"]}, {A}),
    ("GET", "/v1/stages", None, {A}),
    ("POST", "/v1/stages", {"name": "New Lead"}, {A}),
    ("PUT", "/v1/stages/order", {"ids": ["nope"]}, {A}),
    ("PATCH", "/v1/stages/nope", {"name": "x"}, {A}),
    ("DELETE", "/v1/stages/nope", None, {A}),
    ("GET", "/v1/approvals", None, {A}),
    ("POST", "/v1/approvals/nope/approve", None, {A}),
    ("POST", "/v1/approvals/nope/reject", None, {A}),
    ("GET", "/v1/qualification", None, {A}),
    ("POST", "/v1/qualification/fields", {"name": "service"}, {A}),
    ("PATCH", "/v1/qualification/fields/nope", {"required": False}, {A}),
    ("DELETE", "/v1/qualification/fields/nope", None, {A}),
    ("PUT", "/v1/qualification/rule", {"qualified_when": ["nope"]}, {A}),
    ("GET", "/v1/teams", None, {A}),
    ("POST", "/v1/teams", {"key": "sales", "name": "dup"}, {A}),
    ("GET", "/v1/teams/nope", None, {A}),
    ("PATCH", "/v1/teams/nope", {"name": "x"}, {A}),
    ("DELETE", "/v1/teams/nope", None, {A}),
    ("POST", "/v1/teams/nope/availability", {"online_agents": 1}, {C, A}),
    ("GET", "/v1/intents", None, {A}),
    ("PUT", "/v1/intents/nope", {"examples": ["x"]}, {A}),
    ("GET", "/v1/audit", None, {A}),
]
KEYS = {A: ADMIN, C: CHANNEL, Q: QA}
ADMIN_TAGS = {
    "workspaces",
    "keys",
    "knowledge",
    "prompts",
    "stages",
    "qualification",
    "teams",
    "intents",
    "audit",
}


def test_the_table_covers_every_admin_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    listed = {(m, p.split("?")[0]) for m, p, _, _ in ENDPOINTS}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if set(operation.get("tags", [])) & ADMIN_TAGS:
                concrete = (
                    path.replace("{workspace_id}", "ws_demo")
                    .replace("{name}", "system" if "rollback" not in path else "phrases")
                    .replace("{version}", "99")
                    .replace("{fmt}", "faq-json")
                    .replace("{intent}", "nope")
                )
                for name in (
                    "entry_id",
                    "key_id",
                    "stage_id",
                    "approval_id",
                    "field_id",
                    "team_id",
                ):
                    concrete = concrete.replace(f"{{{name}}}", "nope")
                assert (method.upper(), concrete) in listed, f"{method.upper()} {path} not tested"


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> int:
    return client.request(method, path, json=body, headers=headers).status_code


def test_every_role_against_every_endpoint(client: TestClient) -> None:
    # One client for the whole table: a fresh workspace copy per row would take a minute.
    for method, path, body, allowed in ENDPOINTS:
        where = f"{method} {path}"
        assert _call(client, method, path, body, {}) == 401, where
        assert _call(client, method, path, body, {"Authorization": "Bearer ask_wrong"}) == 401, (
            where
        )
        for role, headers in KEYS.items():
            status = _call(client, method, path, body, headers)
            if role in allowed:
                assert status not in (401, 403), (where, role, status)
            else:
                assert status == 403, (where, role, status)
