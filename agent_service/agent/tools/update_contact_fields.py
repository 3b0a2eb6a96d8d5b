from typing import Annotated

from langchain_core.tools import InjectedToolArg, tool

from agent_service.agent.context import ToolContext
from agent_service.lifecycle.policy import PolicyRefusal
from agent_service.schemas.messages import FieldsUpdated


@tool
async def update_contact_fields(
    fields: dict[str, str],
    ctx: Annotated[ToolContext, InjectedToolArg],
) -> str:
    """Record the customer's answers to the qualification questions.

    Only fields the workspace defines, only values the customer actually gave; for choice
    fields use one of the allowed values.

    Args:
        fields: field name to the customer's answer, e.g. {"service": "facial"}.
    """
    qualification = ctx.config.qualification
    applied: dict[str, str] = {}
    problems: list[str] = []
    for name, value in fields.items():
        definition = qualification.field(name)
        if definition is None:
            known = ", ".join(f.name for f in qualification.fields) or "none"
            problems.append(f"unknown field '{name}' (fields are: {known})")
            continue
        try:
            normalized = definition.normalize(value)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if ctx.contact.fields.get(definition.name) != normalized:
            applied[definition.name] = normalized
    if not applied and problems:
        raise PolicyRefusal("; ".join(problems))
    if applied:
        ctx.contact.fields.update(applied)
        if ctx.contact.pending_field in applied:
            ctx.contact.pending_field = None
        ctx.actions.append(FieldsUpdated(fields=applied))
    recorded = ", ".join(f"{k}={v}" for k, v in applied.items()) or "nothing new"
    return f"recorded: {recorded}" + (f"; refused: {'; '.join(problems)}" if problems else "")
