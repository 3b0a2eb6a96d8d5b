"""Groundedness: the numbers, prices, dates and times in a reply must come from the knowledge
retrieved for that turn (or from the customer), and optionally a judge model agrees."""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from agent_service.evals.observation import TurnView

# 1,200 / 600.000 / 10:00 / 30/11/2026 / 20 / 3–4 (each side separately)
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")


def claims(text: str) -> set[str]:
    """The normalised numbers a text states: thousands separators removed, times kept."""
    found: set[str] = set()
    for raw in _NUMBER.findall(text):
        if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
            raw = re.sub(r"[.,]", "", raw)
        found.add(raw)
    return found


def unsupported_claims(turn: TurnView, customer_words: list[str]) -> list[str]:
    """The reply's numbers found neither in the turn's retrieved answers nor in the customer's
    own words."""
    if not turn.reply:
        return []
    sources = [r.get("answer", "") + " " + r.get("question", "") for r in turn.retrieved]
    known: set[str] = set()
    for text in [*sources, *customer_words]:
        known |= claims(text)
    return sorted(c for c in claims(turn.reply) if c not in known)


@dataclass
class JudgeVerdict:
    supported: bool
    votes: list[bool]

    @property
    def spread(self) -> float:
        """Share of votes that disagree with the majority (judge variance)."""
        return min(self.votes.count(True), self.votes.count(False)) / max(len(self.votes), 1)


JUDGE_PROMPT = (
    "You check a customer-service reply against the knowledge it was allowed to use. "
    "Answer with one word: SUPPORTED if every factual claim in the reply (prices, dates, "
    "times, places, names, policies) is stated in the knowledge, otherwise UNSUPPORTED."
)


async def judge(model: BaseChatModel, turn: TurnView, runs: int = 3) -> JudgeVerdict:
    """Ask the judge ``runs`` times; the majority decides, the spread is reported."""
    knowledge = "\n".join(f"- {r.get('answer', '')}" for r in turn.retrieved) or "(none)"
    messages = [
        SystemMessage(JUDGE_PROMPT),
        HumanMessage(f"Knowledge:\n{knowledge}\n\nReply:\n{turn.reply}"),
    ]
    votes: list[bool] = []
    for _ in range(runs):
        answer = await model.ainvoke(messages)
        text = str(answer.content).strip().upper()
        votes.append(text.startswith("SUPPORTED"))
    return JudgeVerdict(supported=votes.count(True) > runs / 2, votes=votes)
