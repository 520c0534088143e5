"""What every adapter shares: events drafted from upstream data and wrapped, and reading languages and countries."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.ingest.domain.ids import event_id
from shared.events import Envelope, EventData, Language, build_envelope

MAX_SUBJECT = 256
# How far after its receipt an event may be dated: clocks upstream may run ahead, and a zone be mistaken for UTC.
FUTURE_TIME_ALLOWED = timedelta(days=1)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))?$")
# How people and exports name the two languages, normalised (lower case, no accents).
_LANGUAGE_NAMES: dict[str, Language] = {
    "fr": "fr",
    "fra": "fr",
    "fre": "fr",
    "francais": "fr",
    "french": "fr",
    "en": "en",
    "eng": "en",
    "anglais": "en",
    "english": "en",
}

# Country names people write instead of ISO codes, normalised (lower case, no accents).
_COUNTRY_NAMES = {
    **dict.fromkeys(("canada", "can"), "CA"),
    **dict.fromkeys(("etats-unis", "etats unis", "united states", "usa", "u.s.a.", "united states of america"), "US"),
    **dict.fromkeys(("france", "fra"), "FR"),
    **dict.fromkeys(("belgique", "belgium", "bel"), "BE"),
    **dict.fromkeys(("suisse", "switzerland", "che"), "CH"),
    **dict.fromkeys(("royaume-uni", "united kingdom", "gbr"), "GB"),
}
# ISO 3166-1 alpha-3 codes, as some exports write countries (Zeffy's `Country` takes two or three letters): those of
# the countries audiences in Canada come from most, each beside its alpha-2 code.
_ALPHA_3 = dict(
    pair.split(":")
    for pair in """AFG:AF ALB:AL DZA:DZ ARG:AR ARM:AM AUS:AU AUT:AT BGD:BD BEL:BE BEN:BJ BOL:BO BRA:BR BGR:BG BFA:BF
    BDI:BI KHM:KH CMR:CM CAN:CA CAF:CF TCD:TD CHL:CL CHN:CN COL:CO COG:CG COD:CD CRI:CR CIV:CI HRV:HR CUB:CU CZE:CZ
    DNK:DK DJI:DJ DOM:DO ECU:EC EGY:EG SLV:SV EST:EE ETH:ET FIN:FI FRA:FR GAB:GA GEO:GE DEU:DE GHA:GH GRC:GR GLP:GP
    GTM:GT GIN:GN HTI:HT HND:HN HKG:HK HUN:HU ISL:IS IND:IN IDN:ID IRN:IR IRQ:IQ IRL:IE ISR:IL ITA:IT JAM:JM JPN:JP
    JOR:JO KEN:KE KOR:KR KWT:KW LAO:LA LVA:LV LBN:LB LBY:LY LTU:LT LUX:LU MDG:MG MYS:MY MLI:ML MTQ:MQ MRT:MR MUS:MU
    MEX:MX MAR:MA MMR:MM NPL:NP NLD:NL NZL:NZ NIC:NI NER:NE NGA:NG NOR:NO PAK:PK PAN:PA PRY:PY PER:PE PHL:PH POL:PL
    PRT:PT QAT:QA REU:RE ROU:RO RUS:RU RWA:RW SPM:PM SAU:SA SEN:SN SRB:RS SGP:SG SVK:SK SVN:SI ZAF:ZA ESP:ES LKA:LK
    SDN:SD SWE:SE CHE:CH SYR:SY TWN:TW THA:TH TGO:TG TUN:TN TUR:TR UKR:UA ARE:AE GBR:GB USA:US URY:UY VEN:VE
    VNM:VN""".split()  # noqa: SIM905 (read as a table)
)


@dataclass(frozen=True)
class Draft:
    """An event before its envelope: the data, the upstream ids naming the fact, when it happened, about what."""

    data: EventData
    id_parts: tuple[str, ...]
    time: datetime
    subject: str | None = None
    # The id `id_parts` give, when the adapter needed it already (to name tickets), so it is not hashed twice.
    known_id: str | None = None


def source_uri(organisation_id: str, source: str) -> str:
    """The CloudEvents `source` of everything one upstream system of one organisation sends."""
    if not _SLUG.match(source):
        raise ValueError(f"source {source!r} must be a slug: 2-63 lower-case letters, digits or dashes")
    return f"/orgs/{organisation_id}/sources/{source}"


def wrap(drafts: Iterable[Draft], *, organisation_id: str, source: str, ingested_at: datetime) -> list[Envelope]:
    uri = source_uri(organisation_id, source)
    return [
        build_envelope(
            draft.data,
            organisation_id=organisation_id,
            source=uri,
            id=draft.known_id or event_id(organisation_id, source, *draft.id_parts),
            time=draft.time,
            # The subject only helps to browse; an upstream id too long for it is left out rather than refused.
            subject=draft.subject if draft.subject and len(draft.subject) <= MAX_SUBJECT else None,
            ingested_at=ingested_at,
        )
        for draft in drafts
    ]


def plain(text: str) -> str:
    """`text` lower-cased without accents or ligatures, for comparing names people type: `Œuvre` → `oeuvre`."""
    spelled_out = text.casefold().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return "".join(char for char in unicodedata.normalize("NFKD", spelled_out) if not unicodedata.combining(char))


def normalise_locale(raw: str) -> str:
    """A BCP 47 tag from what systems send: `fr_CA` → `fr-CA`, `FR` → `fr`, `Français` → `fr`.

    Anything else is returned unchanged, so that validation reports it at the field it came from.
    """
    text = raw.strip()
    # `Français (Canada)`, as a list's language dropdown may offer it: the language is the part before.
    named = _LANGUAGE_NAMES.get(plain(text.split("(", 1)[0].strip()))
    if named is not None:
        return named
    match = _LOCALE.match(text)
    if match is None:
        return text
    language, region = match.groups()
    language = _LANGUAGE_NAMES.get(language.lower(), language.lower())
    if region is None:
        return language
    return f"{language}-{region.upper() if len(region) == 2 else region}"


def language_of(locale: str | None) -> Language | None:
    """French or English, when `locale` is one of them (`fr-CA` → `fr`)."""
    if locale is None:
        return None
    primary = normalise_locale(locale).split("-", 1)[0]
    return "fr" if primary == "fr" else "en" if primary == "en" else None


def country_code(text: str) -> str | None:
    """An ISO 3166-1 alpha-2 code from a code (`ca`, `MEX`) or a common name (`Canada`, `États-Unis`); else None."""
    cleaned = text.strip()
    if len(cleaned) == len("CA") and cleaned.isascii() and cleaned.isalpha():
        return cleaned.upper()
    return _ALPHA_3.get(cleaned.upper()) or _COUNTRY_NAMES.get(plain(cleaned))
