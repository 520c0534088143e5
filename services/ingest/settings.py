"""Settings of the ingest service."""

from typing import ClassVar

from pydantic import Field, model_validator

from shared.bilingual import BilingualValueError
from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: ClassVar[str] = "ingest"

    http_port: int = Field(default=8001, ge=1, le=65535, description="Port of the ingest HTTP API.")
    max_batch_events: int = Field(default=500, ge=1, le=10_000, description="Most events in one POST /v1/events.")
    max_batch_bytes: int = Field(default=512 * 1024, ge=1024, description="Largest POST /v1/events body, in bytes.")
    max_event_bytes: int = Field(default=32 * 1024, ge=256, description="Largest single event, in bytes.")
    max_webhook_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest webhook body, in bytes.")
    max_upload_bytes: int = Field(
        default=2 * 1024 * 1024 * 1024, ge=1024, description="Largest box-office file upload, in bytes."
    )
    publish_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long to wait for Kafka before answering 503."
    )
    claim_abandoned_after_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long events claimed by one request may wait for Kafka before another request takes them "
        "for abandoned (their publisher died) and publishes them; meanwhile a resend is answered 503. Longer than "
        "publish_timeout_seconds.",
    )
    import_chunk_rows: int = Field(
        default=2000, ge=1, le=100_000, description="Import rows published to Kafka together."
    )

    @model_validator(mode="after")
    def _claims_outlive_a_publication(self) -> "IngestSettings":
        if self.claim_abandoned_after_seconds <= self.publish_timeout_seconds:
            raise BilingualValueError(
                en="claim_abandoned_after_seconds must be longer than publish_timeout_seconds: a claim taken for "
                "abandoned while its publisher still waits for Kafka would be published twice",
                fr="claim_abandoned_after_seconds doit être plus long que publish_timeout_seconds : des événements "
                "réservés, crus abandonnés alors que leur envoi attend encore Kafka, seraient publiés deux fois",
            )
        return self
