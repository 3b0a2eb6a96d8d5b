"""Lifecycle stages and the rules the AI must follow when it moves a contact."""

from __future__ import annotations

from pydantic import BaseModel


class StageConfig(BaseModel):
    """One lifecycle stage of a workspace."""

    name: str
    position: int
    lost: bool = False
    ai_settable: bool = True
    requires_approval: bool = False


class PolicyRefusal(Exception):
    """A tool call the workspace policy forbids; its message is shown to the model."""


class Lifecycle(BaseModel):
    """A workspace's stages, in funnel order, with the guardrails on AI moves."""

    stages: list[StageConfig]

    @property
    def active(self) -> list[StageConfig]:
        return sorted((s for s in self.stages if not s.lost), key=lambda s: s.position)

    @property
    def lost(self) -> list[StageConfig]:
        return sorted((s for s in self.stages if s.lost), key=lambda s: s.position)

    @property
    def entry_stage(self) -> str:
        """The stage a new contact starts in."""
        return self.active[0].name

    def find(self, name: str) -> StageConfig | None:
        wanted = name.strip().casefold()
        return next((s for s in self.stages if s.name.casefold() == wanted), None)

    def check_ai_move(self, current: str, is_lost: bool, target: str) -> StageConfig:
        """The stage the AI may move an active contact to, or a refusal saying why not."""
        stage = self.find(target)
        names = ", ".join(s.name for s in self.active)
        if stage is None:
            raise PolicyRefusal(f"unknown stage '{target}'; active stages are: {names}")
        if stage.lost:
            raise PolicyRefusal(f"'{stage.name}' is a lost stage; use mark_lead_lost for it")
        if not stage.ai_settable:
            raise PolicyRefusal(
                f"'{stage.name}' can only be set by a conversion event or a human, not the AI"
            )
        if is_lost:
            raise PolicyRefusal(
                f"the contact is marked lost ({current}); the AI does not move lost leads back"
            )
        current_stage = self.find(current)
        if current_stage is not None and stage.name == current_stage.name:
            raise PolicyRefusal(f"the contact is already in '{stage.name}'")
        if current_stage is not None and stage.position < current_stage.position:
            raise PolicyRefusal(
                f"the AI does not move contacts backwards "
                f"('{current_stage.name}' to '{stage.name}')"
            )
        return stage

    def check_ai_lost_mark(self, is_lost: bool, current: str, target: str) -> StageConfig:
        """The lost stage the AI may mark, or a refusal saying why not."""
        stage = self.find(target)
        names = ", ".join(s.name for s in self.lost)
        if stage is None or not stage.lost:
            raise PolicyRefusal(f"'{target}' is not a lost stage; lost stages are: {names}")
        if not stage.ai_settable:
            raise PolicyRefusal(f"'{stage.name}' can only be set by a human")
        if is_lost:
            raise PolicyRefusal(f"the contact is already marked lost ({current})")
        return stage
