"""The ``agent-service`` command."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import typer

from agent_service.core.config import get_settings
from agent_service.kb_cli import app as kb_app

app = typer.Typer(help="AI agent service for lead qualification.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")  # issue 3: knowledge import/export/reindex


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start the HTTP API."""
    import uvicorn

    from agent_service.api.main import create_app

    # Requests are logged as JSON (with request id) by the app itself, not by uvicorn.
    uvicorn.run(create_app(), host=host, port=port, log_level="info", access_log=False)


@app.command()
def chat(
    text: str,
    contact: str = typer.Option("cli-contact", help="The contact's id."),
    workspace: str = typer.Option("ws_demo", help="The workspace id."),
    channel: str = typer.Option("other", help="The channel to record."),
) -> None:
    """Send one customer message through the same run_turn as the API; print the response."""
    from agent_service.agent.turn import run_turn
    from agent_service.schemas.messages import InboundMessage
    from agent_service.service import build_service

    async def _run() -> str:
        # One message from a terminal: no burst can follow, so it is answered at once.
        service = build_service(get_settings().model_copy(update={"burst_window_seconds": 0}))
        await service.start()
        try:
            now = datetime.now(UTC)
            message = InboundMessage.model_validate(
                {
                    "message_id": f"cli-{now.timestamp()}",
                    "channel": channel,
                    "contact": {"id": contact},
                    "text": text,
                    "sent_at": now.isoformat(),
                }
            )
            response = await run_turn(service.deps, workspace, message)
            return json.dumps(
                response.model_dump(mode="json", by_alias=True), ensure_ascii=False, indent=2
            )
        finally:
            await service.stop()

    typer.echo(asyncio.run(_run()))
