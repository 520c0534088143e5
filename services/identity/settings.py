"""Settings of the identity service."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"

    http_port: int = Field(default=8002, ge=1, le=65535, description="Port of the identity HTTP API.")
