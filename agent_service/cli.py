"""The ``agent-service`` command."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import typer

from agent_service.core.config import get_settings

app = typer.Typer(help="AI agent service for lead qualification.", no_args_is_help=True)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start the HTTP API."""
    import uvicorn

    from agent_service.api.main import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info")


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
        service = build_service(get_settings())
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


def _add_eval_commands() -> None:
    from agent_service.evals.cli import eval_app

    app.add_typer(eval_app, name="eval")


_add_eval_commands()
