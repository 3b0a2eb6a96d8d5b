"""OpenTelemetry traces over OTLP/HTTP: `agent-service serve` with OTEL_EXPORTER_OTLP_ENDPOINT
pointed at a collector on a real socket (here, in the test) sends one trace per request: the
FastAPI request span, the turn and its steps (store, retrieve, brain, tool, save), the
database statements and the call to the model, all under one trace id, which the request's
log lines carry. No span attribute holds the customer's words."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import CHANNEL, message
from tests.processes import serve, service_env
from tests.reliability.harness import wait_until

SECRET_TEXT = "Does the heliotrope-wombat facial hurt?"
STEPS = {"turn", "turn.store", "turn.retrieve", "turn.brain", "turn.tool", "turn.save"}


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    attributes: dict[str, Any]


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: decodes each POST /v1/traces body (protobuf)."""

    spans: list[Span] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""

    @contextmanager
    def running(self) -> Iterator[Collector]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            owner.spans.append(
                                Span(
                                    span.name,
                                    span.trace_id.hex(),
                                    span.span_id.hex(),
                                    span.parent_span_id.hex(),
                                    span.kind,
                                    {a.key: _value(a.value) for a in span.attributes},
                                )
                            )
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def test_a_request_and_its_turn_steps_reach_the_collector(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with (
        Collector().running() as collector,
        FakeOpenAIServer() as model,
        log.open("wb") as out,
    ):
        model.push(
            {
                "message": completion(
                    "", [{"name": "search_knowledge_base", "arguments": {"query": "facial pain"}}]
                )
            },
        )
        model.default = {"message": completion("It does not hurt at all.")}
        env = service_env(
            data_dir,
            AGENT_SERVICE_LLM_MODEL="fake-model",
            OPENAI_BASE_URL=model.url,
            OPENAI_API_KEY="not-needed",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_BSP_SCHEDULE_DELAY="100",
            AGENT_SERVICE_FOLLOWUP_POLL_SECONDS="0",
        )
        with serve(env, log=out) as served:
            response = httpx.post(
                f"{served.url}/v1/messages",
                json=message(SECRET_TEXT, contact="c-traced"),
                headers={**CHANNEL, "X-Request-ID": "traced-1"},
                timeout=120,
            )
            assert response.status_code == 200, response.text

            def request_span() -> Span | None:
                found = [
                    s
                    for s in collector.spans
                    if s.name == "POST /v1/messages" and s.kind == 2  # SERVER
                ]
                return found[0] if found else None

            def complete() -> bool:
                root = request_span()
                if root is None:
                    return False
                names = {s.name for s in collector.spans if s.trace_id == root.trace_id}
                return names >= STEPS

            wait_until(complete, timeout=60)

    assert set(collector.paths) == {"/v1/traces"}
    root = request_span()
    assert root is not None
    trace = [s for s in collector.spans if s.trace_id == root.trace_id]
    by_name = {s.name: s for s in trace}
    by_id = {s.span_id: s for s in trace}
    # The steps hang under the request: store directly, the others under the turn.
    assert by_name["turn.store"].parent_id in by_id
    for step in ("turn.retrieve", "turn.brain", "turn.save"):
        assert by_id[by_name[step].parent_id].name == "turn", step
    assert by_id[by_name["turn.tool"].parent_id].name == "turn.brain"
    assert by_name["turn.tool"].attributes["agent_service.tool"] == "search_knowledge_base"
    assert by_name["turn"].attributes["agent_service.workspace_id"] == "ws_demo"
    assert by_name["turn"].attributes["agent_service.turn_id"] == response.json()["turn_id"]
    assert by_name["turn"].attributes["agent_service.brain"] == "llm"
    # The database statements and the model call, instrumented, in the same trace.
    assert any("db.system" in s.attributes or "db.system.name" in s.attributes for s in trace)
    model_calls = [
        s
        for s in trace
        if s.kind == 3  # CLIENT
        and model.url.split("/v1")[0]
        in str(s.attributes.get("url.full") or s.attributes.get("http.url"))
    ]
    assert len(model_calls) == 2, [(s.name, s.attributes) for s in trace if s.kind == 3]
    # Ids and enums only: the customer's words are nowhere in the spans.
    for span in collector.spans:
        for value in span.attributes.values():
            assert "heliotrope" not in str(value), (span.name, span.attributes)
    # The request's log lines carry its trace id.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    traced = [line for line in lines if line.get("request_id") == "traced-1"]
    assert {line["event"] for line in traced} >= {"http request", "turn"}
    assert {line.get("trace_id") for line in traced} == {root.trace_id}
