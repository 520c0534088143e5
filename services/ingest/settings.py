"""Settings of the ingest service."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: ClassVar[str] = "ingest"

    http_port: int = Field(default=8001, ge=1, le=65535, description="Port of the ingest HTTP API.")
