"""The tools the model may call. One tool a file; each description states its policy."""

from langchain_core.tools import BaseTool

from agent_service.agent.tools.handoff_to_human import handoff_to_human
from agent_service.agent.tools.mark_lead_lost import mark_lead_lost
from agent_service.agent.tools.search_knowledge_base import search_knowledge_base
from agent_service.agent.tools.update_contact_fields import update_contact_fields
from agent_service.agent.tools.update_lifecycle_stage import update_lifecycle_stage

TOOLS: dict[str, BaseTool] = {
    t.name: t
    for t in (
        update_lifecycle_stage,
        mark_lead_lost,
        handoff_to_human,
        update_contact_fields,
        search_knowledge_base,
    )
}
TERMINATING_TOOLS = frozenset({"handoff_to_human"})
