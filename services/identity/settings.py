"""Settings of the identity service."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings

BUNDLED_POLICY = Path(__file__).with_name("identifier_policy.yaml")
BUNDLED_MATCH_MODEL = Path(__file__).with_name("match_model.yaml")
# Used only when no salt is configured, with a warning at start: fine on a laptop, not in production.
DEVELOPMENT_SALT = "parterre-development-salt-set-PARTERRE_IDENTITY_SUPPRESSION_SALT"


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"

    http_port: int = Field(default=8002, ge=1, le=65535, description="Port of the identity HTTP API.")
    identity_policy_file: str = Field(
        default="",
        description="Identifier policy (YAML): priorities, limits, blocked values. Empty: the bundled policy.",
    )
    identity_match_model_file: str = Field(
        default="",
        description="Probabilistic matching model (YAML): m/u per comparison level and the link and review "
        "bands. Empty: the bundled model.",
    )
    identity_suppression_salt: str = Field(
        default="",
        description="Secret salt of the hashes that keep erased persons from being re-added, and of the stored "
        "blocking keys. Empty: a development salt, with a warning at start. Set it in production before the first "
        "start and never change it: the hashes of erased persons cannot be made again, and identity refuses to "
        "start with another salt than the one its stored blocking keys were hashed with.",
    )
    identity_consumer_concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Facts of different upstream keys resolved at once by one instance; one key's stay in order.",
    )
    identity_default_region: str = Field(
        default="CA", pattern=r"^[A-Z]{2}$", description="Country assumed for phone numbers written without one."
    )
    identity_cached_patrons: int = Field(
        default=20_000,
        ge=1_000,
        le=1_000_000,
        description="How many patrons' persons, identifiers and blocking keys an instance keeps in memory (about "
        "5 KB a patron), so that their next facts are resolved without reading them back. An organisation with more "
        "patrons than this is resolved more slowly: with 100,000 patrons, 793 resolutions/s as set by default "
        "against 881/s with caches for 160,000 patrons, which took 430 MB more (measured on two cores, FerretDB "
        "beside it).",
    )
    identity_blocks_check_seconds: float = Field(
        default=300,
        gt=0,
        description="While persons may be filed under older blocking keys, or hold addresses in an older written "
        "form, how often identity checks whether `parterre identity refile-blocks` or `rekey-identifiers` has run.",
    )

    def salt(self) -> str:
        """The suppression salt, or the development salt when none is set (see `identity_suppression_salt`)."""
        return self.identity_suppression_salt or DEVELOPMENT_SALT

    def policy_path(self) -> Path:
        return Path(self.identity_policy_file) if self.identity_policy_file else BUNDLED_POLICY

    def match_model_path(self) -> Path:
        return Path(self.identity_match_model_file) if self.identity_match_model_file else BUNDLED_MATCH_MODEL
