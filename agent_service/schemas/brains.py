"""Which brain wrote a turn's reply: stored in ``Turn.brain`` and sent as ``TurnUsage.brain``."""

from __future__ import annotations

from typing import Final, Literal, get_args

# "llm": the model answered; "offline-planner": the planner answered (no model configured, or
# the model was skipped); "llm+offline-planner": the model ran but gave no reply, the planner
# answered; "conversation-cap": the conversation reached its cap and got the cap's reply;
# "callback-contact": a conversation handed to a closed team, whose customer sent the phone
# number or e-mail the call-back asked for, got its confirmation (no model, no planner).
# "turn-failed": every attempt at the turn failed, the reply is the fallback (agent/fallback.py).
Brain = Literal[
    "llm",
    "offline-planner",
    "llm+offline-planner",
    "conversation-cap",
    "callback-contact",
    "turn-failed",
]

BRAINS: Final[frozenset[str]] = frozenset(get_args(Brain))

LLM: Final = "llm"
OFFLINE_PLANNER: Final = "offline-planner"
LLM_THEN_OFFLINE_PLANNER: Final = "llm+offline-planner"
CONVERSATION_CAP: Final = "conversation-cap"
CALLBACK_CONTACT: Final = "callback-contact"
TURN_FAILED: Final = "turn-failed"

# Which prompts each brain reads: the planner writes only the `phrases` (its templated replies),
# the model is instructed by `system` and falls back to `phrases` for fixed wordings.
PROMPTS_READ: Final[dict[str, tuple[str, ...]]] = {
    LLM: ("system", "phrases"),
    OFFLINE_PLANNER: ("phrases",),
}

# The model name recorded when no model wrote the reply (the planner's own name).
OFFLINE_MODEL_NAME: Final = OFFLINE_PLANNER
