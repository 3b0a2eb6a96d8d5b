"""Evaluators: small dataclasses, each checking one kind of expectation on an observation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_service.core.language import detect_language
from agent_service.evals.groundedness import unsupported_claims
from agent_service.evals.observation import Observation
from agent_service.evals.suite import (
    Case,
    ContactExpectations,
    ReplyChecks,
    ToolCallExpectations,
    ToolCallPattern,
)


@dataclass
class Failure:
    """A failed expectation, and the turn it failed on when there is one."""

    expectation: str
    message: str
    turn: int | None = None


LOST_TOOL = "mark_lead_lost"


class Evaluator(Protocol):
    def check(self, obs: Observation) -> list[Failure]: ...


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().casefold() == actual.strip().casefold()
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and _same(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def matches(pattern: ToolCallPattern, call: dict[str, Any]) -> bool:
    """Same tool, each given argument equal (strings case-insensitively), the wanted status."""
    if call.get("name") != pattern.name:
        return False
    if pattern.status != "any" and call.get("status") != pattern.status:
        return False
    return _same(pattern.args, call.get("args") or {})


@dataclass
class ContactCheck:
    who: str
    spec: ContactExpectations

    def check(self, obs: Observation) -> list[Failure]:
        contact = obs.contacts.get(self.who)
        if contact is None:
            return [Failure("contact", f"contact '{self.who}' was never created")]
        s, out = self.spec, []
        prefix = "" if self.who == "customer" else f"{self.who}."

        def fail(name: str, message: str) -> None:
            out.append(Failure(prefix + name, message))

        if s.stage is not None and not _same(s.stage, contact.stage):
            fail("stage", f"stage is '{contact.stage}', expected '{s.stage}'")
        path = [c["to"] for c in contact.stage_changes]
        if s.stage_path is not None and [p.casefold() for p in s.stage_path] != [
            p.casefold() for p in path
        ]:
            fail("stage_path", f"stages went {' -> '.join(path)}")
        if s.lost is not None and contact.lost != s.lost:
            fail("lost", f"lost is {contact.lost}, expected {s.lost}")
        if s.lost_stage is not None and not (contact.lost and _same(s.lost_stage, contact.stage)):
            fail("lost_stage", f"expected lost in '{s.lost_stage}', got '{contact.stage}'")
        if s.owner is not None and contact.owner != s.owner:
            fail("owner", f"owner is '{contact.owner}', expected '{s.owner}'")
        if s.handoff is not None and bool(contact.handoffs) != s.handoff:
            fail("handoff", f"handoff {'happened' if contact.handoffs else 'did not happen'}")
        teams = [h["team"] for h in contact.handoffs]
        if s.handoff_team is not None and not any(_same(s.handoff_team, t) for t in teams):
            fail("handoff_team", f"handed to {teams or 'nobody'}, expected '{s.handoff_team}'")
        summary = " ".join(h["summary"] for h in contact.handoffs).casefold()
        for fact in s.summary_mentions:
            if fact.casefold() not in summary:
                fail("summary_mentions", f"handoff summary does not mention '{fact}'")
        for name, value in s.fields.items():
            if not _same(value, contact.fields.get(name)):
                got = contact.fields.get(name)
                fail("fields", f"field '{name}' is {got!r}, expected {value!r}")
        for name in s.fields_absent:
            if name in contact.fields:
                fail("fields_absent", f"field '{name}' was recorded: {contact.fields[name]!r}")
        return out


@dataclass
class ToolCallCheck:
    spec: ToolCallExpectations

    def check(self, obs: Observation) -> list[Failure]:
        calls = [(i, c) for i, t in enumerate(obs.turns) for c in t.tool_calls]
        out = [
            Failure("tool_calls.must", f"no {p.status} call to {p.name} with {p.args}")
            for p in self.spec.must
            if not any(matches(p, c) for _, c in calls)
        ]
        for p in self.spec.must_not:
            for i, c in calls:
                if matches(p, c):
                    out.append(
                        Failure(
                            "tool_calls.must_not",
                            f"forbidden call {c['name']}({c['args']}) was {c['status']}",
                            i,
                        )
                    )
        return out


@dataclass
class ReplyCheck:
    """Reply checks on one turn (``turn`` set) or on every reply joined."""

    checks: ReplyChecks
    turn: int | None = None

    def check(self, obs: Observation) -> list[Failure]:
        if self.turn is not None and self.turn >= len(obs.turns):
            return [Failure(f"turn {self.turn + 1}", "this turn never happened", self.turn)]
        turns = obs.turns if self.turn is None else [obs.turns[self.turn]]
        where = self.turn
        c, out = self.checks, []
        replies = [t.reply for t in turns if t.reply]
        text = " ".join(replies)
        folded = text.casefold()
        label = "replies" if self.turn is None else f"turn {self.turn + 1}"
        if c.silent is True and replies:
            out.append(Failure(f"{label}.silent", f"expected no reply, got '{text[:80]}'", where))
        if c.silent is False and not replies:
            out.append(Failure(f"{label}.silent", "expected a reply, got none", where))
        for s in c.contains:
            if s.casefold() not in folded:
                out.append(Failure(f"{label}.contains", f"reply lacks '{s}'", where))
        if c.contains_any and not any(s.casefold() in folded for s in c.contains_any):
            out.append(
                Failure(f"{label}.contains_any", f"reply has none of {c.contains_any}", where)
            )
        for s in c.not_contains:
            if s.casefold() in folded:
                out.append(Failure(f"{label}.not_contains", f"reply contains '{s}'", where))
        for pattern in c.regex:
            if not re.search(pattern, text):
                out.append(Failure(f"{label}.regex", f"reply does not match /{pattern}/", where))
        if c.language is not None:
            for t in turns:
                if t.reply and (got := detect_language(t.reply, t.language or "?")) != c.language:
                    out.append(
                        Failure(
                            f"{label}.language", f"reply in '{got}', expected '{c.language}'", where
                        )
                    )
        return out


@dataclass
class GroundedCheck:
    def check(self, obs: Observation) -> list[Failure]:
        out, words = [], []
        for i, t in enumerate(obs.turns):
            words.append(t.text)
            bad = unsupported_claims(t, words)
            if bad:
                out.append(Failure("grounded", f"not in retrieved knowledge: {', '.join(bad)}", i))
        return out


@dataclass
class MaxTurnsCheck:
    limit: int

    def check(self, obs: Observation) -> list[Failure]:
        n = len(obs.turns)
        return [Failure("max_turns", f"{n} turns, limit {self.limit}")] if n > self.limit else []


@dataclass
class SilentWhileHumanCheck:
    def check(self, obs: Observation) -> list[Failure]:
        return [
            Failure("silent_while_human", f"replied while a human owned it: '{t.reply[:80]}'", i)
            for i, t in enumerate(obs.turns)
            if t.owner_before == "human" and t.reply
        ]


@dataclass
class CanaryCheck:
    def check(self, obs: Observation) -> list[Failure]:
        if not obs.canary:
            return [Failure("canary", "no canary is configured in the system prompt")]
        return [
            Failure("canary", "the system prompt's canary appeared in a reply", i)
            for i, t in enumerate(obs.turns)
            if t.reply and obs.canary in t.reply
        ]


@dataclass
class CaseEvaluators:
    items: list[Evaluator] = field(default_factory=list)

    def check(self, obs: Observation) -> list[Failure]:
        return [f for e in self.items for f in e.check(obs)]


def evaluators_for(case: Case) -> CaseEvaluators:
    """The evaluators a case's expectations call for."""
    e = case.expect
    items: list[Evaluator] = [ContactCheck("customer", e)]
    items += [ContactCheck(who, spec) for who, spec in e.other_contacts.items()]
    if e.tool_calls is not None:
        items.append(ToolCallCheck(e.tool_calls))
    if e.replies is not None:
        items.append(ReplyCheck(e.replies))
    message_steps = [s for s in case.steps if s.say is not None]
    items += [ReplyCheck(s.expect, i) for i, s in enumerate(message_steps) if s.expect is not None]
    if e.grounded:
        items.append(GroundedCheck())
    if e.max_turns is not None:
        items.append(MaxTurnsCheck(e.max_turns))
    if e.silent_while_human:
        items.append(SilentWhileHumanCheck())
    if e.canary_not_leaked:
        items.append(CanaryCheck())
    return CaseEvaluators(items)


def expects_lost_mark(
    spec: ContactExpectations,
    tool_calls: ToolCallExpectations | None = None,
    lost_stage: str | None = None,
) -> bool:
    """Whether a case states that this contact may end lost: ``lost: true``, a ``lost_stage``,
    the lost stage it ended in named as its ``stage`` or in its ``stage_path``, or
    ``mark_lead_lost`` among the calls it must make (applied or any status)."""
    if spec.lost is True or spec.lost_stage is not None:
        return True
    if lost_stage is not None and any(
        _same(named, lost_stage) for named in [spec.stage, *(spec.stage_path or [])] if named
    ):
        return True
    must = tool_calls.must if tool_calls is not None else []
    return any(p.name == LOST_TOOL and p.status in ("applied", "any") for p in must)


def wrong_lost_marks(case: Case, obs: Observation) -> list[str]:
    """The contacts of a case marked lost although the case did not expect a lost mark: the
    contact ended lost, or a ``mark_lead_lost`` call was applied on one of its turns. A lost
    lead is not followed up, so a wrong mark is counted whatever else the case checks."""
    e = case.expect
    specs: dict[str, tuple[ContactExpectations, ToolCallExpectations | None]] = {
        who: (spec, None) for who, spec in e.other_contacts.items()
    }
    specs["customer"] = (e, e.tool_calls)
    marked = {
        t.contact
        for t in obs.turns
        for c in t.tool_calls
        if c.get("name") == LOST_TOOL and c.get("status") == "applied"
    }
    marked |= {who for who, contact in obs.contacts.items() if contact.lost}
    wrong = []
    for who in sorted(marked):
        spec, calls = specs.get(who, (ContactExpectations(), None))
        contact = obs.contacts.get(who)
        ended_in = contact.stage if contact is not None and contact.lost else None
        if not expects_lost_mark(spec, calls, ended_in):
            wrong.append(who)
    return wrong


def tool_stats(case: Case, obs: Observation) -> dict[str, int]:
    """Counts for order-free tool-call precision/recall and the forbidden-call count.

    Precision looks only at applied calls to the tools a case names in ``must``: of those,
    the share that matched an expected call."""
    spec = case.expect.tool_calls or ToolCallExpectations()
    calls = [c for t in obs.turns for c in t.tool_calls]
    applied = [c for c in calls if c.get("status") == "applied"]
    named = {p.name for p in spec.must}
    relevant = [c for c in applied if c.get("name") in named]
    return {
        "expected": len(spec.must),
        "found": sum(any(matches(p, c) for c in calls) for p in spec.must),
        "applied": len(relevant),
        "applied_expected": sum(any(matches(p, c) for p in spec.must) for c in relevant),
        "forbidden": sum(any(matches(p, c) for p in spec.must_not) for c in calls),
    }
