"""How the workspace's messaging layer is reached: callback URL and the shared secrets."""

from fastapi import APIRouter, Depends, Request

from agent_service.api.deps import AgentDepsDep, PrincipalDep, require
from agent_service.api.errors import ERROR_RESPONSES
from agent_service.api.key_reads import KeyReads
from agent_service.delivery import callback_settings
from agent_service.schemas.delivery import DeliveryPublic, DeliveryUpdate

router = APIRouter(prefix="/v1/workspaces/current/delivery", tags=["delivery"])
ADMIN = [Depends(require("admin"))]


@router.get("", response_model=DeliveryPublic, responses=ERROR_RESPONSES, dependencies=ADMIN)
async def get_delivery(principal: PrincipalDep, deps: AgentDepsDep) -> DeliveryPublic:
    """The callback URL, whether the callback and signing secrets are set, and how many
    callbacks are waiting, pending, delivered or failed."""
    row = await callback_settings.load(deps.sessions, principal.workspace_id)
    counts = await callback_settings.callback_counts(deps.sessions, principal.workspace_id)
    return callback_settings.public(row).model_copy(update={"callbacks": counts})


@router.put("", response_model=DeliveryPublic, responses=ERROR_RESPONSES, dependencies=ADMIN)
async def put_delivery(
    request: Request, change: DeliveryUpdate, principal: PrincipalDep, deps: AgentDepsDep
) -> DeliveryPublic:
    """Set the callback URL (for `Prefer: respond-async`), the secret that signs callbacks, and
    the secret inbound requests must be signed with. Fields left out are kept; null clears one.

    With a signing secret set, `POST /v1/messages` needs `X-Signature-256: sha256=<hex>`.
    """
    updated = await callback_settings.update(
        deps.sessions, principal.workspace_id, change, deps.clock()
    )
    # Committed: this process uses them from its next message on; the others within their
    # cache window (api/key_reads.py).
    key_reads: KeyReads = request.app.state.key_reads
    key_reads.forget(principal.workspace_id)
    return updated
