"""Which column of a box-office export holds what: the usual French and English headers, or a YAML mapping file."""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from services.ingest.domain.boxoffice_values import CURRENCY_CODES, UnreadableValueError, parse_moment
from services.ingest.domain.drafts import plain
from shared.events import Language, SalesChannel


class BoxOfficeField(StrEnum):
    """What a column can hold."""

    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    PHONE = "phone"
    STREET = "street"
    CITY = "city"
    REGION = "region"
    POSTAL_CODE = "postal_code"
    COUNTRY = "country"
    CUSTOMER_ID = "customer_id"
    LANGUAGE = "language"
    SHOW = "show"
    PERFORMANCE_DATE = "performance_date"
    PERFORMANCE_TIME = "performance_time"
    DATE = "date"
    VENUE = "venue"
    AMOUNT = "amount"
    UNIT_PRICE = "unit_price"
    QUANTITY = "quantity"
    ORDER_ID = "order_id"
    PRICE_CATEGORY = "price_category"
    SEAT = "seat"
    TYPE = "type"
    CURRENCY = "currency"
    CAMPAIGN = "campaign"
    END_DATE = "end_date"
    CHANNEL = "channel"
    STATUS = "status"


class RowKind(StrEnum):
    """What one row records."""

    TICKET = "ticket"
    DONATION = "donation"
    MEMBERSHIP = "membership"
    SEASON_PASS = "season_pass"  # noqa: S105 (a season ticket, not a password)


F = BoxOfficeField
# Headers as real exports write them, the preferred first: when a file has several (Eventbrite's attendee
# `First Name` and `Buyer First Name`), the first listed wins. Matching ignores case, accents, spaces and punctuation.
DEFAULT_HEADERS: Mapping[BoxOfficeField, tuple[str, ...]] = MappingProxyType(
    {
        F.FIRST_NAME: ("Prénom", "First Name", "Given Name", "Prénom de l'acheteur", "Buyer First Name"),
        F.LAST_NAME: (
            "Nom de famille",
            "Nom",
            "Last Name",
            "Surname",
            "Family Name",
            "Nom de l'acheteur",
            "Buyer Last Name",
        ),
        F.EMAIL: (
            "Courriel",
            "Adresse courriel",
            "Adresse électronique",
            "Email",
            "Email Address",
            "Courriel de l'acheteur",
            "Buyer Email",
        ),
        F.PHONE: ("Téléphone", "Tél", "Cellulaire", "Phone", "Phone Number", "Mobile Phone", "Cell Phone"),
        F.STREET: ("Adresse", "Address", "Adresse 1", "Address 1", "Address Line 1", "Billing Address 1"),
        F.CITY: ("Ville", "City", "Billing City", "Home City"),
        F.REGION: ("Province", "Région", "State", "Province/State", "Billing State", "County of Residence"),
        F.POSTAL_CODE: ("Code postal", "Postal Code", "Zip", "Zip Code", "Postcode", "Billing Zip", "Home Postcode"),
        F.COUNTRY: ("Pays", "Country", "Billing Country", "Home Country"),
        F.CUSTOMER_ID: (
            "No de client",
            "Numéro de client",
            "No client",
            "Customer ID",
            "Customer Number",
            "Patron ID",
            "Constituent ID",
            "External Identifier",
        ),
        F.LANGUAGE: ("Langue", "Language", "Langue de communication", "Locale"),
        F.SHOW: ("Spectacle", "Production", "Événement", "Titre", "Show", "Event Name", "Event", "FormTitle"),
        F.PERFORMANCE_DATE: (
            "Date de représentation",
            "Date du spectacle",
            "Représentation",
            "Performance Date",
            "Performance",
            "Event Date",
            "Show Date",
        ),
        # `Heure` and `Time` alone come last, so a file's `Heure de représentation` wins over its `Heure`, which may be
        # the order's (see `ColumnMapping.timed_date`).
        F.PERFORMANCE_TIME: (
            "Heure de représentation",
            "Heure du spectacle",
            "Heure de l'événement",
            "Heure de début",
            "Performance Time",
            "Show Time",
            "Event Time",
            "Start Time",
            "Heure",
            "Time",
        ),
        F.DATE: (
            "Date",
            "Date de commande",
            "Date de transaction",
            "Date du paiement",
            "Order Date",
            "Transaction Date",
            "Payment Date",
            "Date Received",
        ),
        F.VENUE: ("Salle", "Lieu", "Venue", "Venue Name", "Hall"),
        F.AMOUNT: ("Montant", "Montant payé", "Montant total", "Total", "Amount", "Total Paid", "Total Amount"),
        F.UNIT_PRICE: ("Prix du billet", "Prix unitaire", "Prix", "Ticket Price", "Unit Price", "Price"),
        F.QUANTITY: (
            "Quantité",
            "Qté",
            "Nombre de billets",
            "Nb de billets",
            "Nb billets",
            "Nbre de billets",
            "Qté billets",
            "Quantité de billets",
            "Billets",
            "Nombre de places",
            "Places",
            "Quantity",
            "Qty",
            "Ticket Quantity",
            "Number of Tickets",
            "Tickets",
            "Seats",
        ),
        F.ORDER_ID: (
            "No de commande",
            "Numéro de commande",
            "No de transaction",
            "Numéro de transaction",
            "Order ID",
            "Order #",
            "Order Number",
            "Transaction ID",
        ),
        F.PRICE_CATEGORY: (
            "Catégorie de billet",
            "Catégorie",
            "Tarif",
            "Type de billet",
            "Ticket Type",
            "Price Tier",
            "Price Type",
            "RateTitle",
        ),
        F.SEAT: ("Siège", "Place", "Seat"),
        F.TYPE: ("Type", "Type de transaction", "Transaction Type"),
        F.CURRENCY: ("Devise", "Currency"),
        F.CAMPAIGN: ("Campagne", "Campaign", "Fonds", "Fund"),
        F.END_DATE: ("Date d'expiration", "Date de fin", "Expiration Date", "End Date"),
        F.CHANNEL: ("Canal de vente", "Canal", "Sales Channel", "Channel"),
        F.STATUS: (
            "Statut",
            "Statut de la commande",
            "Statut du paiement",
            "Attendee Status",
            "Order Status",
            "Payment Status",
            "Status",
        ),
    }
)
DEFAULT_TIMEZONE = "America/Toronto"
_PLAIN_DATE_HEADERS = frozenset({"date"})
_PLAIN_TIME_HEADERS = frozenset({"heure", "time"})
_SETTINGS = (
    "columns",
    "date_format",
    "timezone",
    "currency",
    "default_type",
    "default_language",
    "channel",
    "performance_date",
)


def header_key(header: str) -> str:
    """A header reduced to what identifies it: `N° de commande`, `No de commande` and `NO_DE_COMMANDE` are one."""
    spelled = plain(header.replace("#", " no ").replace("°", "o"))
    return re.sub(r"[^a-z0-9]", "", spelled)


@dataclass(frozen=True)
class Column:
    index: int
    header: str


@dataclass(frozen=True)
class ColumnMapping:
    """Which headers mean which field, and how to read the values of one organisation's exports."""

    headers: Mapping[BoxOfficeField, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_HEADERS)
    # Fields whose headers a mapping file names: their column must be in the file.
    explicit: frozenset[BoxOfficeField] = frozenset()
    date_format: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    currency: str = "CAD"
    default_type: RowKind = RowKind.TICKET
    default_language: Language = "fr"
    channel: SalesChannel = SalesChannel.BOX_OFFICE
    # The performance of a file that lists one (Eventbrite's attendee report names the order date alone), as written
    # there (`2026-10-03 19:30`), for the tickets of rows without a performance date.
    performance_date: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def dates_the_performance(self, columns: Mapping[BoxOfficeField, Column]) -> bool:
        """Whether a ticket takes the row's date as its performance's: only from a column headed `Date` alone, in a
        file with no performance date column, whose mapping names no performance. `Date du paiement`, `Order Date` or
        a column a mapping names as the date tell when the ticket was bought, which may be months before the show."""
        date = columns.get(BoxOfficeField.DATE)
        # Beside a performance date column, the date is the sale's: an empty performance date is missing, not it.
        if date is None or self.performance_date is not None or BoxOfficeField.PERFORMANCE_DATE in columns:
            return False
        return BoxOfficeField.DATE not in self.explicit and header_key(date.header) in _PLAIN_DATE_HEADERS

    def timed_date(self, columns: Mapping[BoxOfficeField, Column]) -> BoxOfficeField | None:
        """The date column a time column completes: the performance date column, or the `Date` column that dates the
        performance (see `dates_the_performance`); None when the file has no time column or no such date column.

        A column headed `Heure` or `Time` alone, beside both a performance date and a sale date, may be either one's
        time: it completes neither unless a mapping names it as the performance's.
        """
        time = columns.get(BoxOfficeField.PERFORMANCE_TIME)
        if time is None:
            return None
        if BoxOfficeField.PERFORMANCE_DATE in columns:
            if (
                BoxOfficeField.DATE in columns
                and BoxOfficeField.PERFORMANCE_TIME not in self.explicit
                and header_key(time.header) in _PLAIN_TIME_HEADERS
            ):
                return None
            return BoxOfficeField.PERFORMANCE_DATE
        return BoxOfficeField.DATE if self.dates_the_performance(columns) else None

    def locate(self, header_row: Sequence[str]) -> dict[BoxOfficeField, Column]:
        """The column of each field found in `header_row`; a header a mapping names for one field is not taken by
        another field's defaults, and of two columns with the same header the first is used."""
        first_index: dict[str, int] = {}
        for index, header in enumerate(header_row):
            first_index.setdefault(header_key(header), index)
        claimed = {header_key(header) for name in self.explicit for header in self.headers[name]}
        located: dict[BoxOfficeField, Column] = {}
        for name, headers in self.headers.items():
            for header in headers:
                key = header_key(header)
                if key in first_index and (name in self.explicit or key not in claimed):
                    index = first_index[key]
                    located[name] = Column(index, header_row[index].strip())
                    break
        return located


class MappingProblem(NamedTuple):
    """What is wrong on one line of a mapping file, in English and in French."""

    line: int
    en: str
    fr: str


class MappingFileError(ValueError):
    """A column mapping file cannot be used; each problem names its line. The message is English, `fr` French."""

    def __init__(self, problems: Sequence[MappingProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"line {problem.line}: {problem.en}" for problem in self.problems))

    @property
    def fr(self) -> str:
        return " ; ".join(f"ligne {problem.line} : {problem.fr}" for problem in self.problems)


class _RefusedValueError(ValueError):
    """A setting's value that cannot be used, said in English and French."""

    def __init__(self, en: str, fr: str) -> None:
        super().__init__(en)
        self.en = en
        self.fr = fr


def mapping_text(data: bytes) -> str:
    """The text of a mapping file's bytes: UTF-8, with or without the byte-order mark Windows tools write; raises
    `MappingFileError` naming the line of the first byte that is not (Notepad's "ANSI" writes `é` as one such)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MappingFileError(
            [
                MappingProblem(
                    line,
                    "is not UTF-8 text: save the file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)",
                    "n'est pas du texte UTF-8 : enregistrez le fichier en UTF-8 (dans le Bloc-notes : Enregistrer "
                    "sous, Codage : UTF-8)",
                )
            ]
        ) from None


def load_mapping(yaml_text: str) -> ColumnMapping:
    """A `ColumnMapping` from a YAML file such as::

        columns:
          first_name: "Prénom client"
          email: [Courriel, "Adresse courriel"]
        date_format: "%d/%m/%Y"
        timezone: America/Toronto
        currency: CAD
        default_type: ticket
        performance_date: 2026-10-03 19:30

    Fields not named keep their default headers. Raises `MappingFileError` naming the line of each problem.
    """
    try:
        root = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise MappingFileError(
            [
                MappingProblem(
                    line,
                    f"not valid YAML: {exc.problem}",
                    f"YAML non valide (selon l'analyseur YAML : « {exc.problem} »)",
                )
            ]
        ) from None
    except yaml.reader.ReaderError as exc:
        # A control character pasted in (a form feed from a word processor): YAML refuses the whole file.
        line = yaml_text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise MappingFileError(
            [
                MappingProblem(
                    line,
                    f"holds a control character (U+{code:04X}), which YAML does not allow: remove it",
                    f"contient un caractère de contrôle (U+{code:04X}), que YAML refuse : retirez-le",
                )
            ]
        ) from None
    if root is None:
        return ColumnMapping()
    problems: list[MappingProblem] = []
    settings = _settings(root, problems)
    headers = dict(DEFAULT_HEADERS)
    explicit: set[BoxOfficeField] = set()
    columns = settings.pop("columns", None)
    if columns is not None:
        for name, named_headers in _columns(columns, problems).items():
            headers[name] = named_headers
            explicit.add(name)
    options: dict[str, Any] = {}
    for key, node in settings.items():
        value = _option(key, node, problems)
        if value is not None:
            options[key] = value
    if "performance_date" in options:
        _check_performance_date(options["performance_date"], options.get("date_format"), settings, problems)
    if problems:
        raise MappingFileError(problems)
    return ColumnMapping(headers=MappingProxyType(headers), explicit=frozenset(explicit), **options)


def _check_performance_date(
    value: str, date_format: str | None, settings: Mapping[str, yaml.Node], problems: list[MappingProblem]
) -> None:
    line = _line(settings["performance_date"])
    try:
        moment = parse_moment(value, zone=ZoneInfo(DEFAULT_TIMEZONE), date_format=date_format)
    except UnreadableValueError as exc:
        problems.append(
            MappingProblem(
                line, f"'performance_date': {value!r} {exc.reason}", f"'performance_date' : {value!r} {exc.reason_fr}"
            )
        )
        return
    if not moment.has_time:
        problems.append(
            MappingProblem(
                line,
                f"'performance_date': {value!r} gives no time; a performance starts at one, such as {value} 19:30",
                f"'performance_date' : {value!r} ne donne pas d'heure ; indiquez l'heure de début, par exemple "
                f"{value} 19 h 30",
            )
        )


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _settings(root: yaml.Node, problems: list[MappingProblem]) -> dict[str, yaml.Node]:
    if not isinstance(root, yaml.MappingNode):
        problems.append(
            MappingProblem(
                _line(root),
                "the file should be a mapping with `columns:` and settings",
                "le fichier devrait être une correspondance avec `columns:` et des réglages",
            )
        )
        raise MappingFileError(problems)
    settings: dict[str, yaml.Node] = {}
    known = ", ".join(_SETTINGS)
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in _SETTINGS:
            problems.append(
                MappingProblem(
                    _line(key_node),
                    f"unknown setting {key!r}; known settings: {known}",
                    f"réglage inconnu {key!r} ; réglages connus : {known}",
                )
            )
        elif key in settings:
            problems.append(MappingProblem(_line(key_node), f"{key!r} is set twice", f"{key!r} est défini deux fois"))
        else:
            settings[key] = value_node
    return settings


def _columns(node: yaml.Node, problems: list[MappingProblem]) -> dict[BoxOfficeField, tuple[str, ...]]:
    if not isinstance(node, yaml.MappingNode):
        problems.append(
            MappingProblem(
                _line(node),
                "`columns` should map field names to column headers",
                "`columns` devrait associer des noms de champ à des en-têtes de colonne",
            )
        )
        return {}
    known = ", ".join(name.value for name in BoxOfficeField)
    columns: dict[BoxOfficeField, tuple[str, ...]] = {}
    owner_of_header: dict[str, BoxOfficeField] = {}
    for key_node, value_node in node.value:
        raw_name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        try:
            name = BoxOfficeField(raw_name or "")
        except ValueError:
            problems.append(
                MappingProblem(
                    _line(key_node),
                    f"unknown field {raw_name!r}; known fields: {known}",
                    f"champ inconnu {raw_name!r} ; champs connus : {known}",
                )
            )
            continue
        if name in columns:
            problems.append(
                MappingProblem(
                    _line(key_node),
                    f"field {name.value!r} is mapped twice",
                    f"le champ {name.value!r} est associé deux fois",
                )
            )
            continue
        headers = _headers(value_node, name, problems)
        for header in headers:
            owner = owner_of_header.setdefault(header_key(header), name)
            if owner is not name:
                problems.append(
                    MappingProblem(
                        _line(value_node),
                        f"column {header!r} is mapped to both {owner.value!r} and {name.value!r}",
                        f"la colonne {header!r} est associée à la fois à {owner.value!r} et à {name.value!r}",
                    )
                )
        columns[name] = headers
    return columns


def _headers(node: yaml.Node, name: BoxOfficeField, problems: list[MappingProblem]) -> tuple[str, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    headers: list[str] = []
    for item in items:
        if isinstance(item, yaml.ScalarNode) and item.value.strip():
            headers.append(item.value.strip())
        else:
            problems.append(
                MappingProblem(
                    _line(item),
                    f"the column of {name.value!r} should be a header text or a list of them",
                    f"la colonne de {name.value!r} devrait être un en-tête ou une liste d'en-têtes",
                )
            )
    if not items:
        problems.append(
            MappingProblem(
                _line(node),
                f"no column is given for {name.value!r}",
                f"aucune colonne n'est donnée pour {name.value!r}",
            )
        )
    return tuple(headers)


def _option(key: str, node: yaml.Node, problems: list[MappingProblem]) -> Any:
    if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
        problems.append(
            MappingProblem(_line(node), f"{key!r} should be a single value", f"{key!r} devrait être une seule valeur")
        )
        return None
    value = node.value.strip()
    checks: dict[str, Callable[[str], Any]] = {
        "date_format": _date_format,
        "timezone": _timezone,
        "currency": _currency,
        "default_type": _row_kind,
        "default_language": _language,
        "channel": _channel,
        # Read once the date format is known: see `_check_performance_date`.
        "performance_date": str,
    }
    try:
        return checks[key](value)
    except _RefusedValueError as exc:
        problems.append(MappingProblem(_line(node), f"{key!r}: {exc.en}", f"{key!r} : {exc.fr}"))
        return None


def _date_format(value: str) -> str:
    sample = datetime(2026, 10, 3, 19, 30)
    if "%" not in value:
        raise _RefusedValueError(
            "a date format uses strftime codes, such as %d/%m/%Y",
            "un format de date s'écrit avec les codes de strftime, comme %d/%m/%Y",
        )
    try:
        read_back = datetime.strptime(sample.strftime(value), value)
    except ValueError:
        raise _RefusedValueError(
            f"{value!r} cannot read back the dates it writes; try %d/%m/%Y",
            f"{value!r} ne relit pas les dates qu'il écrit ; essayez %d/%m/%Y",
        ) from None
    if read_back.date() != sample.date():
        # Without a year, every date would be read in 1900.
        raise _RefusedValueError(
            f"{value!r} gives no whole date (day, month and year); try %d/%m/%Y",
            f"{value!r} ne donne pas une date complète (jour, mois et année) ; essayez %d/%m/%Y",
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _RefusedValueError(
            f"{value!r} is not a time zone name such as America/Toronto",
            f"{value!r} n'est pas un nom de fuseau horaire comme America/Toronto",
        ) from None
    return value


def _currency(value: str) -> str:
    if value not in CURRENCY_CODES:
        raise _RefusedValueError(
            f"{value!r} is not an ISO 4217 code such as CAD", f"{value!r} n'est pas un code ISO 4217 comme CAD"
        )
    return value


def _row_kind(value: str) -> RowKind:
    try:
        return RowKind(value)
    except ValueError:
        kinds = ", ".join(kind.value for kind in RowKind)
        raise _RefusedValueError(
            f"should be one of {kinds}", f"devrait être l'une des valeurs suivantes : {kinds}"
        ) from None


def _language(value: str) -> Language:
    if value not in ("fr", "en"):
        raise _RefusedValueError("should be fr or en", "devrait être fr ou en")
    return "fr" if value == "fr" else "en"


def _channel(value: str) -> SalesChannel:
    try:
        return SalesChannel(value)
    except ValueError:
        channels = ", ".join(channel.value for channel in SalesChannel)
        raise _RefusedValueError(
            f"should be one of {channels}", f"devrait être l'une des valeurs suivantes : {channels}"
        ) from None
