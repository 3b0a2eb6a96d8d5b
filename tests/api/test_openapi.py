"""Every admin endpoint is in the OpenAPI spec with its errors and request examples."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

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
    "channels",
}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = spec
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def test_admin_endpoints_document_errors_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not set(operation.get("tags", [])) & ADMIN_TAGS:
                continue
            checked += 1
            where = f"{method.upper()} {path}"
            assert operation.get("description") or operation.get("summary"), where
            assert {"401", "403"} <= set(operation["responses"]), where
            if "{" in path and path != "/v1/workspaces/{workspace_id}/keys":
                assert "404" in operation["responses"] or "422" in operation["responses"], where
            body = operation.get("requestBody")
            if body is None:
                continue
            for media in body["content"].values():
                schema = _resolve(spec, media.get("schema", {}))
                has_example = "example" in media or "examples" in media or "examples" in schema
                assert has_example or schema.get("type") in ("string", "array"), where
    assert checked >= 45
