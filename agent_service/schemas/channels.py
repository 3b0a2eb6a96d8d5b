"""Channel connections as admins create and read them: a platform, its credentials, and the
webhook address the platform is given. Secrets go in and never come out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from agent_service.schemas.base import Patch

ChannelType = Literal["whatsapp", "telegram", "line", "chatwoot"]
BaseUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]

# Per platform: the credentials a connection needs, which of them are secret, and the
# platform's real address (``api_base_url`` exists so tests and proxies can point elsewhere).
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "whatsapp": ("phone_number_id", "access_token", "app_secret", "verify_token"),
    "telegram": ("bot_token", "secret_token"),
    "line": ("channel_secret", "channel_access_token"),
    "chatwoot": ("api_access_token", "account_id", "webhook_token"),
}
PUBLIC_CREDENTIALS = frozenset({"phone_number_id", "account_id"})
DEFAULT_API_BASE_URL: dict[str, str] = {
    "whatsapp": "https://graph.facebook.com",
    "telegram": "https://api.telegram.org",
    "line": "https://api.line.me",
    "chatwoot": "https://app.chatwoot.com",
}

Credential = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^\S+$")]
# Telegram's secret_token: 1-256 characters A-Z, a-z, 0-9, _ and - (Bot API, setWebhook).
TelegramSecret = Annotated[str, Field(min_length=16, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")]
SharedSecret = Annotated[str, Field(min_length=16, max_length=500, pattern=r"^\S+$")]


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="What admins call it.")
    api_base_url: BaseUrl | None = Field(
        default=None, description="The platform's API address; default: the real one."
    )


class WhatsAppCreate(_Create):
    """WhatsApp Cloud API: the business phone number's id, a system user's access token, the
    Meta app's secret (signs webhooks) and the verify token you choose for the webhook."""

    type: Literal["whatsapp"]
    phone_number_id: str = Field(min_length=1, max_length=100, pattern=r"^[0-9]+$")
    access_token: Credential
    app_secret: Credential
    verify_token: SharedSecret


class TelegramCreate(_Create):
    """Telegram Bot API: the bot's token from @BotFather and the secret token you give
    setWebhook (sent back as X-Telegram-Bot-Api-Secret-Token)."""

    type: Literal["telegram"]
    bot_token: str = Field(min_length=10, max_length=200, pattern=r"^[0-9]+:[A-Za-z0-9_-]+$")
    secret_token: TelegramSecret


class LineCreate(_Create):
    """LINE Messaging API: the channel secret (signs webhooks) and a channel access token."""

    type: Literal["line"]
    channel_secret: Credential
    channel_access_token: Credential


class ChatwootCreate(_Create):
    """Chatwoot agent bot: the bot's access token, the account id, and the token you add to
    the bot's webhook URL (`?token=...`): Chatwoot sends no signature of its own."""

    type: Literal["chatwoot"]
    api_access_token: Credential
    account_id: str = Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")
    webhook_token: SharedSecret


ChannelCreate = Annotated[
    WhatsAppCreate | TelegramCreate | LineCreate | ChatwootCreate, Field(discriminator="type")
]


class ChannelUpdate(Patch):
    """Fields sent are replaced; left out, they stay. Credentials: only the connection's own
    (see `POST /v1/channels`); a secret is replaced by sending it again."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    api_base_url: BaseUrl | None = Field(default=None)
    phone_number_id: str | None = Field(default=None, min_length=1, max_length=100)
    access_token: Credential | None = None
    app_secret: Credential | None = None
    verify_token: SharedSecret | None = None
    bot_token: str | None = Field(
        default=None, min_length=10, max_length=200, pattern=r"^[0-9]+:[A-Za-z0-9_-]+$"
    )
    secret_token: TelegramSecret | None = None
    channel_secret: Credential | None = None
    channel_access_token: Credential | None = None
    api_access_token: Credential | None = None
    account_id: str | None = Field(default=None, min_length=1, max_length=20, pattern=r"^[0-9]+$")
    webhook_token: SharedSecret | None = None


class ChannelCreated(BaseModel):
    """The new connection and the path to give the platform as its webhook (after your
    service's public address)."""

    id: str
    type: ChannelType
    name: str
    webhook_path: str


class ChannelPublic(BaseModel):
    """A connection as admins see it: secrets only as "set"."""

    id: str
    type: ChannelType
    name: str
    webhook_path: str
    api_base_url: str
    credentials: dict[str, str] = Field(
        description='Non-secret values as they are (phone_number_id, account_id); secrets as "set".'
    )
    messages_accepted: int = Field(description="Text messages its webhook handed to the agent.")
    events_ignored: int = Field(
        description="Events acknowledged without an answer: delivery statuses, non-text messages."
    )
    last_ignored: str | None = Field(description="What the latest ignored event was.")
    last_event_at: datetime | None
    created_at: datetime
    updated_at: datetime


def credential_names(channel_type: str) -> tuple[str, ...]:
    return CREDENTIALS[channel_type]


def split_credentials(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(shown, secret) of the credentials in ``values``."""
    shown = {k: v for k, v in values.items() if k in PUBLIC_CREDENTIALS}
    secret = {k: v for k, v in values.items() if k not in PUBLIC_CREDENTIALS}
    return shown, secret
