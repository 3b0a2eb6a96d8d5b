"""Structured logs: JSON lines with a request id and a turn trace; phones and e-mails redacted."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from agent_service.core.logs import configure_logging, redact
from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import CHANNEL, ClientFactory, message


@pytest.mark.parametrize(
    "text",
    [
        "+84 901 234 567",
        "+84901234567",
        "0901-234-567",
        "(012) 3456 7890",
        "lan.nguyen+spa@example.com.vn",
        "60123456789",
    ],
)
def test_redact_hides_phones_and_emails(text: str) -> None:
    assert redact(f"reach me at {text} please") in (
        "reach me at [phone] please",
        "reach me at [email] please",
    )


def test_redact_keeps_ordinary_numbers() -> None:
    kept = "Basic facial 600,000 VND, 60 minutes, turn_3f2a, wamid.HBgM123456"
    assert redact(kept) == kept


def test_request_log_and_turn_trace_are_json_with_request_id_and_redacted(
    make_client: ClientFactory,
) -> None:
    text = "I'm Lan, call me on +84 901 234 567 or lan.nguyen@example.com about a facial"
    model = ScriptedChatModel(
        steps=[reply("Noted!", tool_call("update_contact_fields", fields={"service": "facial"}))]
    )
    stream = io.StringIO()
    with make_client(chat_model=model) as client:
        configure_logging("INFO", True, stream=stream)
        body = message(text, contact="+84901234567")
        body["contact"]["email"] = "lan.nguyen@example.com"
        response = client.post(
            "/v1/messages", json=body, headers={**CHANNEL, "X-Request-ID": "req-abc.123"}
        )
        generated = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-abc.123"
    assert len(generated.headers["X-Request-ID"]) == 32
    output = stream.getvalue()
    for secret in ("901 234 567", "84901234567", "lan.nguyen@example.com", "example.com"):
        assert secret not in output, f"{secret!r} leaked into the logs"
    lines: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines()]
    turn = next(line for line in lines if line["event"] == "turn")
    assert turn["request_id"] == "req-abc.123"
    assert turn["brain"] == "llm" and turn["model_calls"] == 1
    assert turn["input_tokens"] == 120 and len(turn["model_latencies_ms"]) == 1
    assert turn["tool_calls"] == [{"name": "update_contact_fields", "status": "applied"}]
    assert "[phone]" in turn["text"] and "[email]" in turn["text"]
    assert turn["contact"] == "[phone]"
    http = [line for line in lines if line["event"] == "http request"]
    assert {h["request_id"] for h in http} >= {"req-abc.123"}
    assert all(line["level"] in ("info", "warning") for line in lines)
