"""Settings of the profile service."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, TimeZoneName

BUNDLED_SEGMENTS = Path(__file__).with_name("segments.yaml")
BUNDLED_TRIGGERS = Path(__file__).with_name("triggers.yaml")


class ProfileSettings(ServiceSettings):
    service_name: ClassVar[str] = "profile"

    http_port: int = Field(default=8003, ge=1, le=65535, description="Port of the profile HTTP API.")
    profile_segments_file: str = Field(
        default="", description="Segment definitions (YAML). Empty: the bundled segments."
    )
    profile_triggers_file: str = Field(default="", description="Trigger rules (YAML). Empty: the bundled triggers.")
    profile_season_start_month: int = Field(
        default=9, ge=1, le=12, description="Month a season starts: 9 for a September-to-August theatre season."
    )
    profile_timezone: TimeZoneName = Field(
        default="America/Montreal",
        description="Time zone in which seasons and days begin, and implied consent terms, the calendar months and "
        "years of trigger rules and their anniversaries are counted.",
    )
    profile_default_region: str = Field(
        default="CA",
        pattern=r"^[A-Z]{2}$",
        description="Country assumed for phone numbers looked up without one; set it as identity's "
        "`PARTERRE_IDENTITY_DEFAULT_REGION`, so staff find a patron by the number identity linked them with.",
    )

    consumer_batch_max_records: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description="Most records a consumer takes from Kafka at once. Profile applies a batch's persons in groups "
        "whose reads, folds and writes overlap, so a larger batch keeps the store and the processor busy together "
        "for longer: 20,000 facts of 5,000 patrons sent at once were applied about 13% faster in batches of 2,000 "
        "than of 500, for about 50 MB more memory at the peak.",
    )
    profile_consumer_concurrency: int = Field(
        default=16, ge=1, le=256, description="Persons whose facts one instance applies at once; one person's in order."
    )
    profile_batch_writes: bool = Field(
        default=True,
        description="Apply the plain facts of each batch from Kafka together, with a few bulk writes; off, every "
        "fact is applied on its own.",
    )
    profile_compressed_states: bool = Field(
        default=True,
        description="Keep each profile's state, and the announcements of its last change, compressed in the store (a "
        "patron's 5 KB in under 1 KB, which the store reads and rewrites whole at every change). Off, they are written "
        "as JSON, which releases before 2026-12 read: keep it off while an instance of such a release still runs "
        "against the same store. Both forms are read either way; `parterre profile recompute --store-all` stores every "
        "profile again in the form set here.",
    )
    profile_kept_profiles: int = Field(
        default=4096,
        ge=0,
        le=1_000_000,
        description="Profiles an instance keeps in memory after a batch stores them, so that the next facts of the "
        "same persons need not read them back; when full, one chosen at random makes room. When it is above the "
        "number of patrons active at once (and `profile_kept_profiles_mb` large enough for them), no batch reads a "
        "profile this instance stored last. Each takes about 16 KB for a patron with one purchase, 23 KB with three, "
        "and 1.25 KB more for each record their profile holds (a ticket, a performance, an order, a gift, an open), "
        "the view last announced included.",
    )
    profile_kept_profiles_mb: int = Field(
        default=128,
        ge=0,
        le=1_000_000,
        description="The memory the profiles kept may take together, in MB, by the estimate above: regulars with "
        "400 purchases take about a megabyte each, and 4,096 of them would take gigabytes. A profile larger "
        "than this is not kept.",
    )
    profile_sweep_interval_seconds: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="How often the time sweep looks for profiles that time alone changed; 0 turns it off here "
        "(for instances where another one sweeps).",
    )

    profile_overview_cache_seconds: float = Field(
        default=300,
        ge=0,
        le=86400,
        description="How long an organisation's audience overview, which reads every one of its profiles, is served "
        "as computed before it is computed again; 0 computes it at every request.",
    )

    def segments_path(self) -> Path:
        return Path(self.profile_segments_file) if self.profile_segments_file else BUNDLED_SEGMENTS

    def triggers_path(self) -> Path:
        return Path(self.profile_triggers_file) if self.profile_triggers_file else BUNDLED_TRIGGERS
