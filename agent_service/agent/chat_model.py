"""The chat model: any OpenAI-compatible endpoint, with one bounded retry layer."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from agent_service.agent.usage import ModelUsage
from agent_service.core import metrics
from agent_service.core.config import Settings
from agent_service.core.text import storable, storable_value

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ModelUnavailable(RuntimeError):
    """The model could not answer within the retry budget; the turn falls back."""


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """ChatOpenAI for the configured endpoint, with the SDK's own retries off; None if unset."""
    if not settings.llm_model:
        return None
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model,
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=0,
        temperature=settings.llm_temperature,
        stream_usage=True,
    )


def is_retryable(exc: BaseException) -> bool:
    """Transient failures only: never 400/401/403, nor an exhausted quota."""
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429 and _quota_exhausted(exc):
            return False
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(
        exc, openai.APIConnectionError | openai.APITimeoutError | httpx.TransportError
    )


def _quota_exhausted(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    code = str(body.get("code") or body.get("error", {}).get("code") or "")
    return code == "insufficient_quota"


def retry_after_seconds(exc: BaseException | None) -> float | None:
    if isinstance(exc, openai.APIStatusError):
        value = exc.response.headers.get("retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


class _Backoff:
    """Exponential backoff with full jitter, honouring Retry-After, within a total budget."""

    def __init__(self, budget: float, base: float = 0.5, cap: float = 4.0) -> None:
        self.budget, self.base, self.cap, self.spent = budget, base, cap, 0.0

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        wait = retry_after_seconds(exc)
        if wait is None:
            wait = random.uniform(0, min(self.cap, self.base * 2 ** (state.attempt_number - 1)))
        if self.spent + wait > self.budget:
            raise ModelUnavailable(
                f"retry budget of {self.budget}s exhausted after "
                f"{state.attempt_number} attempt(s); last: {type(exc).__name__}: {exc}"
            ) from exc
        self.spent += wait
        return wait


async def invoke_model(
    model: Runnable[Any, BaseMessage],
    messages: Sequence[BaseMessage],
    settings: Settings,
    usage: ModelUsage,
) -> AIMessage:
    """One model call with bounded retries; raises ModelUnavailable when it cannot answer.

    Every attempt is counted in ``usage``, the failed ones too: each was a request the
    provider may bill."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(settings.llm_max_attempts),
        wait=_Backoff(settings.llm_retry_budget_seconds, base=settings.llm_backoff_base_seconds),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                usage.count_request()
                try:
                    result = await model.ainvoke(list(messages))
                except BaseException:
                    metrics.count_model_call(ok=False)
                    raise
                metrics.count_model_call(ok=True)
    except ModelUnavailable:
        raise
    except Exception as exc:
        attempts = retrying.statistics.get("attempt_number", 1)
        raise ModelUnavailable(f"{attempts} attempt(s); last: {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, AIMessage):
        raise ModelUnavailable(f"unexpected model output {type(result).__name__}")
    if result.usage_metadata:
        metrics.count_tokens(
            result.usage_metadata.get("input_tokens", 0),
            result.usage_metadata.get("output_tokens", 0),
        )
    return storable_message(result)


def storable_message(message: AIMessage) -> AIMessage:
    """The model's message with text both databases can store (core/text.py): everything the
    model writes (the reply, tool arguments, a malformed call) enters the service here."""
    content = storable_value(message.content)
    tool_calls = [
        {**call, "name": storable(call["name"]), "args": storable_value(call["args"])}
        for call in message.tool_calls
    ]
    invalid = [storable_value(dict(call)) for call in message.invalid_tool_calls]
    if (content, tool_calls, invalid) == (
        message.content,
        message.tool_calls,
        message.invalid_tool_calls,
    ):
        return message
    return message.model_copy(
        update={"content": content, "tool_calls": tool_calls, "invalid_tool_calls": invalid}
    )
