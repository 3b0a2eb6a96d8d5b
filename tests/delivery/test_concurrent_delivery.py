"""Repeats of one message arriving at the same time run the agent once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply
from tests.conftest import CHANNEL, ClientFactory, message


def test_concurrent_repeats_run_once_and_all_get_the_original(make_client: ClientFactory) -> None:
    model = ScriptedChatModel(steps=[reply("Our KL branch opens at 10:00.")])
    body = message("What time do you open in KL?", message_id="wamid.concurrent", contact="cc-1")
    with make_client(chat_model=model) as client, ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(lambda _: client.post("/v1/messages", json=body, headers=CHANNEL), range(10))
        )
        contact = client.get("/v1/contacts/cc-1", headers=CHANNEL).json()
    model.assert_all_used()
    assert len(model.calls) == 1
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert contact["lifecycle_stage"] == "New Lead"
