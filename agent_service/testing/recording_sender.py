"""A follow-up sender for tests: remembers every nudge instead of delivering it."""

from __future__ import annotations

from agent_service.follow_ups.sender import Nudge


class RecordingFollowUpSender:
    def __init__(self) -> None:
        self.sent: list[Nudge] = []

    async def send(self, nudge: Nudge) -> None:
        self.sent.append(nudge)
