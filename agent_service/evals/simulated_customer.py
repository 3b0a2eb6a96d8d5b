"""A simulated customer: a chat model plays a persona with a goal until it says DONE."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agent_service.evals.suite import SimulatedCustomer

DONE = "DONE"


def customer_prompt(spec: SimulatedCustomer) -> str:
    return (
        "You are role-playing a customer writing to a business on a chat app. Stay in character, "
        "write short chat messages, one at a time, in the persona's language.\n"
        f"Persona: {spec.persona}\nYour goal: {spec.goal}\n"
        f"When the goal is reached, or the business hands you to a person, reply only {DONE}."
    )


async def next_message(
    model: BaseChatModel, spec: SimulatedCustomer, exchanges: list[tuple[str, str | None]]
) -> str | None:
    """The customer's next message, or None when the customer is done."""
    if not exchanges and spec.opening:
        return spec.opening
    # Roles are mirrored: the customer model speaks as the assistant, the agent as the user.
    messages: list[BaseMessage] = [SystemMessage(customer_prompt(spec))]
    if not exchanges:
        messages.append(HumanMessage("(the chat is open; write your first message)"))
    for said, reply in exchanges:
        messages.append(AIMessage(said))
        messages.append(HumanMessage(reply or "(no reply yet)"))
    answer = await model.ainvoke(messages)
    text = str(answer.content).strip()
    if not text or text.upper().startswith(DONE):
        return None
    return text
