"""Settings of the audience console."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, TimeZoneName


class ConsoleSettings(ServiceSettings):
    service_name: ClassVar[str] = "console"

    http_port: int = Field(default=8005, ge=1, le=65535, description="Port of the audience console (web pages).")
    console_ingest_url: str = Field(default="http://127.0.0.1:8001", description="Where the ingest API answers.")
    console_identity_url: str = Field(default="http://127.0.0.1:8002", description="Where the identity API answers.")
    console_profile_url: str = Field(default="http://127.0.0.1:8003", description="Where the profile API answers.")
    console_notify_url: str = Field(default="http://127.0.0.1:8004", description="Where the notify API answers.")
    # The same variable as profile's: the organisation's zone, in which its days begin and its times are read.
    profile_timezone: TimeZoneName = Field(
        default="America/Montreal", description="Time zone the console shows dates and times in."
    )
    console_api_timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="Longest wait for one call to a service's API."
    )
    console_session_hours: float = Field(
        default=10.0, gt=0, le=24 * 30, description="A staff session ends this long after login, used or not."
    )
    console_idle_minutes: float = Field(
        default=60.0, gt=0, le=24 * 60, description="A staff session unused this long ends."
    )
    console_secure_cookies: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only. Browsers treat http://127.0.0.1 and http://localhost "
        "as secure, so this stays on for local use; turn it off only behind a proxy that serves plain HTTP. A page "
        "served over HTTPS sets its cookies HTTPS-only either way.",
    )
    console_login_attempts: int = Field(
        default=10, ge=1, le=1000, description="Failed logins allowed per username in the lockout window."
    )
    console_lockout_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="The window failed logins are counted in, and the lockout's length."
    )
