"""Settings of the profile service."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class ProfileSettings(ServiceSettings):
    service_name: ClassVar[str] = "profile"

    http_port: int = Field(default=8003, ge=1, le=65535, description="Port of the profile HTTP API.")
