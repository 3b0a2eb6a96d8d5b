"""Wire level: the real langchain-openai client over HTTP to a local fake OpenAI server."""

from __future__ import annotations

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import CHANNEL, ClientFactory, send


def test_tool_calls_from_the_wire_are_applied(make_client: ClientFactory) -> None:
    text = "I want to book a hydrating facial in KL this Saturday"
    with FakeOpenAIServer() as server:
        server.push(
            {
                "message": completion(
                    "Lovely! Which time suits you on Saturday?",
                    tool_calls=[
                        {
                            "name": "update_lifecycle_stage",
                            "arguments": {
                                "stage": "Hot Lead",
                                "reason": "wants to book",
                                "evidence": text,
                                "confidence": 0.85,
                            },
                        },
                        {
                            "name": "update_contact_fields",
                            "arguments": {"fields": {"service": "facial", "branch": "KL"}},
                        },
                    ],
                )
            }
        )
        with make_client(
            llm_model="fake-model", openai_base_url=server.url, openai_api_key="sk-test"
        ) as client:
            body = send(client, text, contact="wire-1")
            contact = client.get("/v1/contacts/wire-1", headers=CHANNEL).json()
        sent = server.requests[0]

    assert body["reply"]["text"] == "Lovely! Which time suits you on Saturday?"
    assert body["usage"] == {
        "brain": "llm",
        "model": "fake-model",
        "prompt_version": "phrases@1+system@1",
        "model_calls": 1,
        "input_tokens": 200,
        "output_tokens": 20,
    }
    assert [a["type"] for a in body["actions"]] == ["lifecycle_stage_changed", "fields_updated"]
    assert contact["lifecycle_stage"] == "Hot Lead"
    assert contact["fields"] == {"service": "facial", "branch": "kuala lumpur"}
    assert contact["stage_history"][-1]["model"] == "fake-model"
    # What went over the wire: the model, the tools, the quoted knowledge, the message.
    assert sent["model"] == "fake-model"
    assert {t["function"]["name"] for t in sent["tools"]} >= {"handoff_to_human", "mark_lead_lost"}
    assert "ctx" not in str(sent["tools"])  # injected arguments never reach the model
    assert "<knowledge>" in sent["messages"][0]["content"]
    assert sent["messages"][-1] == {"role": "user", "content": text}


def test_provider_error_falls_back_to_the_offline_planner(make_client: ClientFactory) -> None:
    with FakeOpenAIServer() as server:
        server.default = {"status": 500, "body": {"error": {"message": "boom"}}}
        with make_client(
            llm_model="fake-model",
            openai_base_url=server.url,
            openai_api_key="sk-test",
            llm_max_attempts=2,
            llm_retry_budget_seconds=0.5,
        ) as client:
            body = send(client, "What are your opening hours in KL?", contact="wire-2")
        calls = len(server.requests)
    assert calls == 2  # bounded: the configured attempts, no SDK retries on top
    assert body["usage"]["brain"] == "llm+offline-planner"
    assert "10:00" in body["reply"]["text"]
