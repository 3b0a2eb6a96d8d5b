"""A chat model that plays back scripted replies and tool calls, and records what it was sent."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, Field

Step = AIMessage | Callable[[list[BaseMessage]], AIMessage] | Exception


def tool_call(name: str, **args: Any) -> dict[str, Any]:
    """A tool call as a model would emit it."""
    return {"name": name, "args": args, "id": f"call_{name}_{next(_ids)}", "type": "tool_call"}


_ids = itertools.count(1)


def reply(text: str = "", *calls: dict[str, Any], tokens: tuple[int, int] = (120, 30)) -> AIMessage:
    """A scripted model turn: text and optional tool calls, with token usage."""
    return AIMessage(
        content=text,
        tool_calls=list(calls),
        usage_metadata={
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
    )


class ScriptedChatModel(BaseChatModel):
    """Returns ``steps`` in order (an AIMessage, a function of the messages, or an exception
    to raise). ``calls`` records every prompt; ``assert_all_used`` fails on leftover steps.
    With ``loop=True`` the script repeats forever (benchmarks)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    steps: list[Any] = Field(default_factory=list)
    loop: bool = False
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[Any] = Field(default_factory=list)
    position: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        self.bound_tools = list(tools)
        return self

    def _next(self, messages: list[BaseMessage]) -> ChatResult:
        self.calls.append(list(messages))
        if self.position >= len(self.steps):
            if not self.loop or not self.steps:
                raise AssertionError(
                    f"the model was called {len(self.calls)} times; script ran out"
                )
            self.position = 0
        step = self.steps[self.position]
        self.position += 1
        if isinstance(step, Exception):
            raise step
        message = step(messages) if callable(step) else step
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._next(messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._next(messages)

    def assert_all_used(self) -> None:
        left = len(self.steps) - self.position
        assert left == 0, f"{left} scripted model step(s) were never used"
