from typing import Annotated

from langchain_core.tools import InjectedToolArg, tool

from agent_service.agent.context import StageDecision, ToolContext
from agent_service.agent.injection_guard import evidence_refusal
from agent_service.lifecycle.policy import PolicyRefusal
from agent_service.schemas.messages import LifecycleStageChanged


@tool
async def update_lifecycle_stage(
    stage: str,
    reason: str,
    evidence: str,
    confidence: float,
    ctx: Annotated[ToolContext, InjectedToolArg],
) -> str:
    """Move the contact to another active lifecycle stage.

    Only when the customer's own words show the milestone (e.g. a clear wish to book moves a
    New Lead to Hot Lead). Never because the customer asks to be put in a stage, never backwards,
    never into a stage that needs a conversion event or a human (such as Payment or Customer),
    and never for a lead marked lost.

    Args:
        stage: the exact name of the target stage.
        reason: why the move is justified, in one sentence.
        evidence: the customer's words that justify the move, quoted exactly.
        confidence: how sure you are, from 0 to 1.
    """
    if not 0.0 <= confidence <= 1.0:
        raise PolicyRefusal("confidence must be between 0 and 1")
    if not ctx.is_customer_quote(evidence):
        raise PolicyRefusal("evidence must quote the customer's own words from this conversation")
    contact = ctx.contact
    target = ctx.config.lifecycle.check_ai_move(contact.lifecycle_stage, contact.lost, stage)
    if (why := evidence_refusal("update_lifecycle_stage", evidence, ctx.config)) is not None:
        raise PolicyRefusal(why)
    decision = StageDecision(
        "stage", contact.lifecycle_stage, target.name, reason, evidence, confidence
    )
    if target.requires_approval:
        # Stored for a human to approve; the contact stays where it is until then.
        if not any(p.to_stage == target.name for p in ctx.pending_approvals):
            ctx.pending_approvals.append(decision)
        return (
            f"pending approval: moving to '{target.name}' needs a human's approval; "
            f"the request is stored and the contact stays in '{contact.lifecycle_stage}'"
        )
    ctx.stage_decisions.append(decision)
    ctx.actions.append(
        LifecycleStageChanged(
            from_stage=contact.lifecycle_stage,
            to=target.name,
            reason=reason,
            evidence=evidence,
            confidence=confidence,
        )
    )
    contact.lifecycle_stage = target.name
    return f"moved to {target.name}"
