"""The per-workspace mapping from conversion event types to lifecycle stages."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConversionStagesUpdate(BaseModel):
    """The whole mapping; types left out move no stage (their value is still recorded)."""

    stages: dict[str, str] = Field(
        description='event type -> active stage, e.g. {"purchase_completed": "Customer"}',
        examples=[{"checkout_started": "Payment", "purchase_completed": "Customer"}],
    )


class ConversionStagesPublic(BaseModel):
    stages: dict[str, str]
