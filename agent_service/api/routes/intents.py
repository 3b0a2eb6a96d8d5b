"""Intent examples for the offline planner, per workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from agent_service.agent.intents import examples as intent_examples
from agent_service.api.deps import AdminKey, SessionDep, UnitOfWorkDep
from agent_service.api.errors import documented

router = APIRouter(prefix="/v1/intents", tags=["intents"])


class IntentExamples(BaseModel):
    """Example customer messages per intent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"intents": {"wants_human": ["can I talk to a person?", "gặp nhân viên"]}}]
        }
    )

    intents: dict[str, list[str]]


class IntentExamplesUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"examples": ["real person please", "cho gặp người thật"]}]}
    )

    examples: list[Annotated[str, Field(max_length=500)]] = Field(max_length=500)


@router.get("", response_model=IntentExamples, responses=documented())
async def get_intents(principal: AdminKey, session: SessionDep) -> IntentExamples:
    """Every intent's examples."""
    return IntentExamples(intents=await intent_examples.examples(session, principal.workspace_id))


@router.put(
    "/{intent}",
    response_model=IntentExamples,
    responses=documented(invalid="Unknown intent, or no example left."),
)
async def put_intent(
    intent: str,
    body: Annotated[IntentExamplesUpdate, Body()],
    principal: AdminKey,
    uow: UnitOfWorkDep,
) -> IntentExamples:
    """Replace one intent's examples; the offline planner uses them from the next message on."""
    session = uow.session
    before = (await intent_examples.examples(session, principal.workspace_id)).get(intent, [])
    after = await intent_examples.replace(session, principal.workspace_id, intent, body.examples)
    uow.audit(
        principal,
        action="intent.update",
        target_type="intent",
        target_id=intent,
        before={"examples": before},
        after={"examples": after},
    )
    return IntentExamples(intents=await intent_examples.examples(session, principal.workspace_id))
