"""Upstream sources and their credentials: which organisation a webhook or an import belongs to."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.ingest.domain.boxoffice_mapping import ColumnMapping, load_mapping
from shared.bilingual import BilingualValueError, quoted
from shared.events.audience import PARTERRE_PERSON_SOURCE

SOURCE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Two keys are valid at once, so a key can be rotated without a moment where the upstream system is refused.
MAX_VALID_KEYS = 2


class SourceKind(StrEnum):
    SHOPIFY = "shopify"
    MAILCHIMP = "mailchimp"
    BOXOFFICE = "boxoffice"
    API = "api"


@dataclass(frozen=True)
class Source:
    """An upstream system of one organisation.

    `key_hashes` hold SHA-256 digests of the random keys Parterre issued (Mailchimp puts one in the webhook
    URL); `signing_secrets` hold the secrets an upstream system signs with (Shopify's app secret). Those
    cannot be hashed: checking an HMAC needs the secret itself.
    """

    source_id: str
    organisation_id: str
    kind: SourceKind
    key_hashes: tuple[str, ...] = ()
    signing_secrets: tuple[str, ...] = ()
    # A box office's column mapping (YAML, validated when set): uploads over HTTP carry only the file.
    column_mapping: str | None = None
    # When the upstream system asked that everything from this source be erased (Shopify `shop/redact`).
    redaction_requested_at: datetime | None = None

    def accepts_key(self, presented: str | None) -> bool:
        if not presented:
            return False
        digest = hash_source_key(presented)
        # Compare against every key so the time taken does not tell which one nearly matched.
        matches = [hmac.compare_digest(digest, known) for known in self.key_hashes]
        return any(matches)


def hash_source_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_source_key() -> str:
    return f"psk_{secrets.token_urlsafe(32)}"


def validate_source_id(source_id: str) -> str:
    if not SOURCE_ID_PATTERN.match(source_id):
        raise BilingualValueError(
            en=f"source id {source_id!r} must be 2-63 lower-case letters, digits or dashes",
            fr=f"l'identifiant de source {quoted(source_id, 'fr')} doit compter de 2 à 63 lettres minuscules, chiffres "
            "ou tirets",
        )
    if source_id == PARTERRE_PERSON_SOURCE:
        raise BilingualValueError(
            en=f"source id {source_id!r} is reserved for Parterre's own requests",
            fr=f"l'identifiant de source {quoted(source_id, 'fr')} est réservé aux demandes de Parterre lui-même",
        )
    return source_id


def rotated(values: tuple[str, ...], new_value: str) -> tuple[str, ...]:
    """The newest value first, keeping the previous one valid until the next rotation.

    Adding the value already in force again changes nothing: it must not push out the previous one.
    """
    return (new_value, *(value for value in values if value != new_value))[:MAX_VALID_KEYS]


def source_mapping(source: Source) -> ColumnMapping | None:
    """The column mapping stored with a box-office source, if any (validated when it was stored)."""
    return None if source.column_mapping is None else load_mapping(source.column_mapping)
