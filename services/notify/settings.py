"""Settings of the notify service."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"

    http_port: int = Field(default=8004, ge=1, le=65535, description="Port of the notify HTTP API.")
