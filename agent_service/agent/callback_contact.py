"""The second half of the call-back fallback: the phone number or e-mail the customer sends.

"Leave your phone number or e-mail and they'll call you back" (``unavailable_team_reply``) is
only worth saying if the answer is kept. ``take_callback_details`` reads the customer's words
for one (``conversations/contact_details.py``). When it finds one, the working contact gets
it, the handoff's summary gets a ``Call back: ...`` line (``ctx.callback``; ``save_turn``
writes both in the turn's transaction), a ``callback_contact`` action tells the messaging
layer, and the reply says back what was recorded, in the customer's language. No model is
asked: the details are the customer's own words, parsed, and the reply is a fixed phrase.

It runs in two places: in the turn that hands off (customers often give the number with the
request: "please call me back at 012-345 6789"), and in the turns after it, while the
conversation belongs to the humans and its handoff waits for details
(``teams/callback_requests.py``). Any other message there stays silent, as before.
"""

from __future__ import annotations

from agent_service.agent.context import CallbackDetails, ToolContext
from agent_service.conversations.contact_details import find_contact_details, phone_region
from agent_service.schemas.messages import CallbackContact, HandoffAction
from agent_service.teams.callback_requests import WaitingCallback, with_callback


def take_callback_details(
    ctx: ToolContext, text: str, locale: str | None, waiting: WaitingCallback | None = None
) -> str | None:
    """Record the phone number or e-mail in ``text`` for the call-back of this turn's handoff
    (``waiting`` None) or of the open one; returns the confirmation, or None when ``text``
    gives neither or no call-back was promised."""
    if waiting is not None:
        team_key, summary, handoff_id = waiting.team, waiting.summary, waiting.handoff_id
    elif ctx.handoff is not None and ctx.handoff.fallback == "collect_contact":
        team_key, summary, handoff_id = ctx.handoff.team, ctx.handoff.summary, None
    else:
        return None
    config = ctx.config
    team = config.team(team_key)
    region = phone_region(locale, ctx.contact.phone, ctx.language, team.timezone if team else None)
    details = find_contact_details(text, region)
    if not details:
        return None
    summary = with_callback(summary, details.phone, details.email)
    ctx.callback = CallbackDetails(details.phone, details.email, handoff_id, summary)
    if ctx.handoff is not None and handoff_id is None:
        ctx.handoff.summary = summary
        for action in ctx.actions:
            if isinstance(action, HandoffAction) and action.team == team_key:
                action.summary = summary
    ctx.contact.phone = details.phone or ctx.contact.phone
    ctx.contact.email = details.email or ctx.contact.email
    ctx.actions.append(CallbackContact(team=team_key, phone=details.phone, email=details.email))
    return config.prompts.phrase(
        "callback_noted",
        ctx.language,
        business_name=config.name,
        team=team.name if team else team_key,
        hours=team.hours_text() if team else "",
        details=details.spoken(),
    )
