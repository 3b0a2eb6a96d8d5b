"""The offline planner: the agent's decisions without a language model.

It answers from the best knowledge-base match, asks the next qualification question, records
simple answers, acts on intents found by embedding similarity, and hands off when it cannot
help. It calls the same tools, under the same guardrails, as the model does.
"""

from __future__ import annotations

import re

from agent_service.agent.context import ToolContext
from agent_service.agent.intents.detector import IntentMatch, PlannerThresholds, decide_intent
from agent_service.agent.toolbox import execute_tool
from agent_service.knowledge_base.index import Hit

# An entry as close as an answer (cosine) that stands out a little less than one may be offered
# as a topic: on dev, the top entry at fused score 2.0 was the right one about four times in
# five, too few to quote it, enough to ask. Unrelated questions stay under the cosine.
TOPIC_AGREEMENT_MARGIN = 1.0
LOST_INTENTS = {
    "spam": ("Unqualified", "unrelated or spam message"),
    "bought_elsewhere": ("Lost to Competitor", "the customer bought or booked elsewhere"),
    "not_interested": ("Cold Lead", "the customer is no longer interested"),
}
_QUESTION = re.compile(
    r"\?|\b(how|what|when|where|which|why|who|do you|can i|is there|are there|price|cost|fee|"
    r"giá|phí|harga|kos|bao nhiêu|"
    r"không|ko|sao|nào|ở đâu|khi nào|thế nào|berapa|bila|di mana|adakah|boleh)\b"
    r"|ไหม|มั้ย|เท่าไร|เท่าไหร่|อะไร|ที่ไหน|เมื่อไหร่|ยังไง|อย่างไร|หรือเปล่า",
    re.IGNORECASE,
)


def confident(hit: Hit, thresholds: PlannerThresholds) -> bool:
    """Whether the planner may quote ``hit``: close enough, and the signals agree on it."""
    if hit.score < thresholds.answer:
        return False
    # Dense retrieval alone has no fused score: the cosine is all there is to go on.
    return hit.fused_score is None or hit.fused_score >= thresholds.answer_agreement


def pick_answer(hits: list[Hit], language: str, thresholds: PlannerThresholds) -> Hit | None:
    """The best hit the planner may quote, preferring one in the customer's language."""
    good = [h for h in hits if confident(h, thresholds)]
    if not good:
        return None
    best = good[0]
    same_language = [h for h in good if h.language == language and h.score >= best.score - 0.04]
    return same_language[0] if same_language else best


def closest_topics(hits: list[Hit], thresholds: PlannerThresholds, most: int = 2) -> list[Hit]:
    """Entries close to the question but not sure enough to quote: topics to offer."""
    agreement = thresholds.answer_agreement - TOPIC_AGREEMENT_MARGIN
    near = [
        h
        for h in hits
        if h.score >= thresholds.answer and (h.fused_score is None or h.fused_score >= agreement)
    ]
    return near[:most]


def summarize(ctx: ToolContext, reason: str) -> str:
    """A handoff summary a human can act on without asking the customer again."""
    contact = ctx.contact
    known = ", ".join(f"{k}: {v}" for k, v in contact.fields.items()) or "nothing yet"
    said = " | ".join(ctx.customer_words[-3:])
    return (
        f"{contact.name or contact.external_id} (stage {contact.lifecycle_stage}, "
        f"language {ctx.language}). {reason}. Known: {known}. Customer said: {said}"
    )


async def run_offline_planner(
    ctx: ToolContext,
    text: str,
    hits: list[Hit],
    intent: IntentMatch | None,
    thresholds: PlannerThresholds,
    knowledge_searched: bool = True,
) -> str:
    """Decide and act for one customer message; returns the reply text.

    ``knowledge_searched`` is False when no knowledge could be searched at all (the index and
    the database's signals both unavailable): a question then goes to a colleague, and the
    handoff says why.
    """
    config, contact, lang = ctx.config, ctx.contact, ctx.language
    prompts = config.prompts
    team_name = _team_name(ctx, config.default_handoff_team)

    def say(key: str, team: str | None = None, **values: str) -> str:
        greeting_name = f" {contact.name}" if contact.name else ""
        return prompts.phrase(
            key,
            lang,
            name=greeting_name,
            business_name=config.name,
            team=team or team_name,
            **values,
        )

    found_intent = decide_intent(intent, text, thresholds)
    answers = config.qualification.extract(text, contact.pending_field, ctx.now.date())
    new_answers = {k: v for k, v in answers.items() if contact.fields.get(k) != v}
    if new_answers and found_intent not in LOST_INTENTS:
        await execute_tool(ctx, "update_contact_fields", {"fields": new_answers})

    if found_intent in LOST_INTENTS:
        stage, reason = LOST_INTENTS[found_intent]
        record = await execute_tool(
            ctx, "mark_lead_lost", {"lost_stage": stage, "reason": reason, "evidence": text}
        )
        # The reply follows what was applied: a goodbye only with the lost mark itself.
        if record.status == "applied" and contact.lost:
            return say(found_intent)
        if record.status == "applied":  # stored for a human's approval: nothing changed yet
            return say("noted")
        found_intent = None  # refused: an ordinary message, answered as one

    if found_intent == "wants_human":
        return await _handoff(ctx, "the customer asked to talk to a person", "handoff")

    parts: list[str] = []
    if found_intent == "ready_to_buy":
        target = _next_ai_stage(ctx)
        if target is not None:
            await execute_tool(
                ctx,
                "update_lifecycle_stage",
                {
                    "stage": target,
                    "reason": "the customer wants to book",
                    "evidence": text,
                    "confidence": round(intent.score if intent else 0.0, 2),
                },
            )
        parts.append(say("ready_to_book"))

    # A bare answer to our question ("tomorrow", "KL") is not a new question for the FAQ.
    asks = bool(_QUESTION.search(text)) or not new_answers
    answer = pick_answer(hits, lang, thresholds) if asks else None
    if answer is not None:
        parts.append(answer.answer)
    elif found_intent == "greeting" and not contact.fields:
        parts.append(say("greeting"))
    elif new_answers and not parts and not config.qualification.is_qualified(contact.fields):
        parts.append(say("noted"))
    elif found_intent is None and _QUESTION.search(text) and not new_answers:
        near = closest_topics(hits, thresholds)
        if not near:
            reason = (
                "the knowledge base has no answer to the question"
                if knowledge_searched
                else "the knowledge base could not be searched"
            )
            return await _handoff(ctx, reason, "cannot_help")
        # Unsure: offer the nearest topics rather than quote a possibly wrong answer.
        parts.append(say("closest_topics", topics=" / ".join(h.question for h in near)))

    if config.qualification.is_qualified(contact.fields):
        return " ".join(parts)  # the qualification rule hands off after this turn
    missing = config.qualification.next_missing(contact.fields)
    if missing is not None and contact.owner == "ai":
        parts.append(missing.question_in(lang))
        contact.pending_field = missing.name
    return " ".join(parts) or say("clarify")


def _team_name(ctx: ToolContext, key: str | None) -> str:
    team = ctx.config.team(key) or ctx.config.fallback_team
    return team.name if team else "customer care"


async def _handoff(ctx: ToolContext, reason: str, phrase: str) -> str:
    record = await execute_tool(
        ctx, "handoff_to_human", {"reason": reason, "summary": summarize(ctx, reason)}
    )
    team = _team_name(ctx, ctx.handoff.team if ctx.handoff else None)
    if record.status != "applied":
        phrase = "fallback"
    return ctx.config.prompts.phrase(phrase, ctx.language, business_name=ctx.config.name, team=team)


def _next_ai_stage(ctx: ToolContext) -> str | None:
    """The next active stage after the current one, if the AI may set it."""
    lifecycle = ctx.config.lifecycle
    current = lifecycle.find(ctx.contact.lifecycle_stage)
    if current is None or current.lost:
        return None
    later = [s for s in lifecycle.active if s.position > current.position]
    return later[0].name if later and later[0].ai_settable else None
