"""Settings of the notify service."""

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"

    http_port: int = Field(default=8004, ge=1, le=65535, description="Port of the notify HTTP API.")
    notify_attempt_timeout_seconds: float = Field(
        default=15.0, gt=0, le=120, description="Longest wait for a receiver to answer one delivery attempt."
    )
    notify_retry_delay_scale: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Stretches the retry schedule (5 s, 5 min, 30 min, 2 h, … 24 h); tests shrink it.",
    )
    notify_retry_jitter: float = Field(
        default=0.2, ge=0, lt=1, description="Each retry pause is drawn within this fraction of its nominal length."
    )
    notify_max_in_flight_per_subscription: int = Field(
        default=4, ge=1, le=64, description="Attempts in flight at once to one subscription; others wait their turn."
    )
    notify_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the worker looks for due deliveries and changed subscriptions."
    )
    notify_attempt_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="An attempt claimed this long ago with no outcome is taken as interrupted (its instance died).",
    )
    notify_frequency_cap_messages: int = Field(
        default=3, ge=1, le=1000, description="Most marketing messages one person receives per window."
    )
    notify_frequency_cap_days: float = Field(default=7.0, gt=0, le=365, description="The frequency cap's window.")
    notify_allow_loopback: bool = Field(
        default=False, description="Allow targets on loopback addresses (tests, a receiver on the same host)."
    )
    notify_allow_private_networks: bool = Field(
        default=False, description="Allow targets on private and link-local addresses (a tool inside the network)."
    )
    notify_allow_plain_http: bool = Field(default=False, description="Allow `http://` targets; otherwise HTTPS only.")
    notify_secret_rotation_overlap_hours: float = Field(
        default=24.0, gt=0, le=720, description="How long the previous signing secret still signs after a rotation."
    )
    notify_max_queue_per_subscription: int = Field(
        default=10_000,
        ge=1,
        le=100_000,
        description="Deliveries one subscription's queue holds; past it the oldest go to the dead letters "
        "as `queue_full`.",
    )
    notify_disabled_max_age_hours: float = Field(
        default=72.0,
        gt=0,
        le=8760,
        description="How long a disabled subscription's queued deliveries wait for it to be re-enabled, counted from "
        "when each was queued; then they go to the dead letters as `subscription_disabled`.",
    )
    notify_secrets_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key(s), comma-separated, sealing signing secrets and API keys at rest; the first seals. "
        "Empty: the development key on a service listening on loopback only; refused on one listening beyond it.",
    )
    notify_consumer_concurrency: int = Field(
        default=16, ge=1, le=256, description="Persons whose events one instance handles at once, each in order."
    )
