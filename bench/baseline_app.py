"""The baseline the intake benchmarks measure beside the service: a bare FastAPI endpoint of the
same shape as ``POST /v1/messages`` with ``Prefer: respond-async`` (a JSON body validated by a
pydantic model, a 202 JSON answer), served by uvicorn with as many workers as the service.

With ``BENCH_BASELINE_MODEL_URL`` and ``BENCH_BASELINE_CALLBACK_URL`` set (bench/replies.py),
each acknowledged message also gets what the service's answer costs at the least: one call to
the (fake) model, then one POST of the answer to the callback URL.

    python -m uvicorn bench.baseline_app:app --port P --workers N
"""

from __future__ import annotations

import asyncio
import json
import os
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bench.harness import Pool

MODEL_URL = os.environ.get("BENCH_BASELINE_MODEL_URL")
CALLBACK_URL = os.environ.get("BENCH_BASELINE_CALLBACK_URL")
tasks: set[asyncio.Task[None]] = set()
# The bench's cheap client, not httpx: one httpx.AsyncClient with a hundred requests in flight
# spreads their answers over seconds (its connection pool), and a baseline must not be slow.
pools: dict[str, Pool] = {}


class Contact(BaseModel):
    id: str
    locale: str | None = None


class Inbound(BaseModel):
    message_id: str
    channel: str
    contact: Contact
    text: str
    sent_at: str | None = None


app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/messages", status_code=202)
async def accept(message: Inbound) -> JSONResponse:
    if MODEL_URL and CALLBACK_URL:
        task = asyncio.create_task(answer(message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return JSONResponse(
        {"message_id": message.message_id, "status": "accepted", "idempotency_key": "k"},
        status_code=202,
        headers={"Preference-Applied": "respond-async"},
    )


async def post(url: str, payload: object) -> bytes:
    parts = urlsplit(url)
    key = parts.netloc
    if key not in pools:
        pools[key] = Pool(parts.hostname or "127.0.0.1", parts.port or 80)
    return (await pools[key].request("POST", parts.path, payload)).body


async def answer(message: Inbound) -> None:
    assert MODEL_URL and CALLBACK_URL
    prompt = {"model": "fake-model", "messages": [{"role": "user", "content": message.text}]}
    completion = json.loads(await post(MODEL_URL, prompt))
    reply = completion["choices"][0]["message"]["content"]
    response = {"message_id": message.message_id, "status": "replied", "reply": reply}
    await post(CALLBACK_URL, {"type": "message.response", "response": response})
