"""How retrieved knowledge is shown to the model: quoted data, never instructions."""

from __future__ import annotations

from html import escape

from agent_service.knowledge_base.index import Hit


def quote_passages(hits: list[Hit]) -> str:
    """Passages as tagged, escaped blocks, so an entry cannot close its tag and pose as rules."""
    return (
        "\n".join(
            f'<passage id="{h.id}" score="{h.score:.2f}" language="{h.language}">\n'
            f"Q: {escape(h.question, quote=False)}\nA: {escape(h.answer, quote=False)}\n</passage>"
            for h in hits
        )
        or "(no passages found)"
    )
