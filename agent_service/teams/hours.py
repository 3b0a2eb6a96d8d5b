"""Handoff teams: business hours in the team's time zone, and who is online."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from agent_service.schemas.teams import Fallback

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TeamConfig(BaseModel):
    """A human team that conversations can be handed to."""

    key: str
    name: str
    description: str = ""
    timezone: str = "UTC"
    business_hours: dict[str, list[str]] = Field(default_factory=dict)
    # What a handoff does when the team is closed or nobody is online.
    fallback: Fallback = "collect_contact"
    # The messaging layer's latest online count; None when it never sent one.
    online_agents: int | None = None

    def is_open(self, now: datetime) -> bool:
        """Within business hours (no hours configured means always open)."""
        if not self.business_hours:
            return True
        local = now.astimezone(_zone(self.timezone))
        hours = self.business_hours.get(DAYS[local.weekday()])
        if not hours:
            return False
        return hours[0] <= local.strftime("%H:%M") < hours[1]

    def unavailable_because(self, now: datetime) -> str | None:
        """Why a handoff now would reach nobody, or None when someone can take it."""
        if not self.is_open(now):
            return "outside business hours"
        if self.online_agents == 0:
            return "nobody online"
        return None

    def hours_text(self) -> str:
        """Business hours in a compact, language-neutral form: 'Mon-Sat 09:00-21:00 (UTC)'."""
        if not self.business_hours:
            return "24/7"
        groups: list[tuple[list[str], str]] = []
        for day in DAYS:
            hours = self.business_hours.get(day)
            span = f"{hours[0]}-{hours[1]}" if hours else ""
            if groups and groups[-1][1] == span:
                groups[-1][0].append(day)
            else:
                groups.append(([day], span))
        parts = [
            (days[0].title() if len(days) == 1 else f"{days[0].title()}-{days[-1].title()}")
            + f" {span}"
            for days, span in groups
            if span
        ]
        return f"{', '.join(parts)} ({self.timezone})"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def check_hours(timezone: str, business_hours: dict[str, list[str]]) -> str | None:
    """What is wrong with a time zone and business hours, or None."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone '{timezone}' (use an IANA name such as Asia/Bangkok)"
    for day, hours in business_hours.items():
        if day not in DAYS:
            return f"unknown day '{day}'; days are: {', '.join(DAYS)}"
        if len(hours) != 2 or not all(_is_hhmm(h) for h in hours) or hours[0] >= hours[1]:
            return f'hours for \'{day}\' must be ["HH:MM", "HH:MM"] with the opening first'
    return None


def _is_hhmm(text: str) -> bool:
    return (
        len(text) == 5
        and text[2] == ":"
        and text[:2].isdigit()
        and text[3:].isdigit()
        and (int(text[:2]) < 24 and int(text[3:]) < 60)
    )
