from typing import Annotated

from langchain_core.tools import InjectedToolArg, tool

from agent_service.agent.context import ToolContext
from agent_service.agent.knowledge_context import quote_passages


@tool
async def search_knowledge_base(query: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Search the business's knowledge base again, when the passages you were given do not
    answer the customer's question. Answer only from what it returns.

    Args:
        query: what to look for, in the customer's language.
    """
    hits = await ctx.search(query)
    known = {h.id for h in ctx.retrieved}
    ctx.retrieved.extend(h for h in hits if h.id not in known)
    return quote_passages(hits) if hits else "no matching knowledge-base entries"
