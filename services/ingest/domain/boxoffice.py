"""Box-office CSV exports to Parterre events, streamed row by row: every row is accepted or rejected with reasons."""

import csv
import functools
import hashlib
import json
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import ROUND_DOWN, Decimal
from typing import Any, BinaryIO, TypeVar
from zoneinfo import ZoneInfo

from services.ingest.domain.boxoffice_mapping import (
    DEFAULT_HEADERS,
    BoxOfficeField,
    Column,
    ColumnMapping,
    MappingFileError,
    RowKind,
    header_key,
    load_mapping,
)
from services.ingest.domain.boxoffice_values import (
    CURRENCY_CODES,
    Amount,
    DateOrder,
    Moment,
    UnreadableValueError,
    parse_amount,
    parse_moment,
    parse_quantity,
    parse_time_of_day,
    proven_date_order,
    reads_either_way,
)
from services.ingest.domain.drafts import Draft, country_code, language_of, normalise_locale, plain, source_uri, wrap
from services.ingest.domain.errors import ModelT, Problems
from services.ingest.domain.ids import event_id
from services.ingest.domain.textstream import BoundedLines, OpenedText, open_text
from shared.bilingual import format_count, is_singular
from shared.events import (
    DonationMadeV1,
    Envelope,
    EventData,
    FieldError,
    Language,
    SalesChannel,
    SubscriptionKind,
    SubscriptionPurchasedV1,
    TicketPurchasedV1,
    TicketRefundedV1,
)

__all__ = [
    "DEFAULT_HEADERS",
    "AcceptedRow",
    "BoxOfficeField",
    "ColumnMapping",
    "CsvFormatError",
    "ImportReport",
    "MappingFileError",
    "RejectedRow",
    "RowKind",
    "RowOutcome",
    "load_mapping",
    "read_boxoffice_csv",
]

F = BoxOfficeField
_DATE_FIELDS = (F.PERFORMANCE_DATE, F.DATE, F.END_DATE)
T = TypeVar("T")
ChoiceT = TypeVar("ChoiceT")
# No sane export has a line this long; a longer one is a corrupt or binary file, rejected without being held.
MAX_LINE_CHARS = 1_000_000
WHOLE_ROW = "$"
# Title and blank rows a report may have above its header.
_HEADER_SEARCH_ROWS = 20
# Lines one header cell may span: a title wrapped in its cell (Alt+Enter in Excel) is written with its line breaks.
_HEADER_CELL_LINES = 10
# The label of a report's totals row, folded by `plain`: `Total`, `Sous-total :`, `Grand total`, `Total général`.
_TOTALS_LABEL = re.compile(
    r"^(?:grand[ -]?)?(?:sous[ -]?|sub[ -]?)?tota(?:l|ux)(?: (?:general|global|des ventes))?\s*:?$"
)
_DELIMITERS = ("\t", ";", ",")
_IDENTIFYING = (F.EMAIL, F.PHONE, F.CUSTOMER_ID)
_DEFAULT_PRICE_CATEGORY: dict[Language, str] = {"fr": "Général", "en": "General"}
_ROW_KINDS = {
    **dict.fromkeys(("ticket", "tickets", "billet", "billets", "billetterie", "admission", "entree"), RowKind.TICKET),
    **dict.fromkeys(("donation", "don", "dons", "gift"), RowKind.DONATION),
    **dict.fromkeys(("membership", "adhesion", "membre", "member", "cotisation"), RowKind.MEMBERSHIP),
    **dict.fromkeys(("abonnement", "season pass", "season ticket", "subscription"), RowKind.SEASON_PASS),
}
_CHANNELS = {
    **dict.fromkeys(("en ligne", "online", "web", "internet", "site web"), SalesChannel.ONLINE),
    **dict.fromkeys(("guichet", "billetterie", "box office", "sur place", "door", "porte"), SalesChannel.BOX_OFFICE),
    **dict.fromkeys(("telephone", "phone", "par telephone", "by phone"), SalesChannel.PHONE),
}
# Statuses of a row that records no payment kept (Eventbrite's "Glossary of order and attendee statuses in event
# reports": Refunded/Canceled, Deleted, Abandoned, Unpaid, Pending; their French forms), folded by `plain`. A pending
# order comes again in a later export once paid. `Partially Refunded` is a sale: its amount is what was kept.
# Exports are made again after refunds, so a ticket sold in one export may say Refunded/Canceled in the next: with its
# order number, such a row is the refund of the tickets it bought (see `_refund_of`); any other row of these statuses
# is not imported.
_REFUNDED = frozenset(
    {"refunded", "canceled", "cancelled", "refunded/canceled", "refunded/cancelled"}
    | {"rembourse", "remboursee", "annule", "annulee", "rembourse/annule", "remboursee/annulee"}
)
_NOT_A_SALE = _REFUNDED | frozenset(
    {"deleted", "abandoned", "unpaid", "pending", "not attending", "void", "voided", "declined", "failed"}
    | {"supprime", "supprimee", "abandonne", "abandonnee", "impaye", "impayee", "non paye", "non payee", "en attente"}
    | {"refuse", "refusee", "echoue", "echouee"}
)
_LOCALE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_CENT = Decimal("0.01")
# Distinct cells remembered per parser: exports repeat a few dates, prices and quantities on thousands of rows.
_REMEMBERED_CELLS = 4096
_EXCEL_TEXT_GUARD = re.compile(r'^="(.*)"$')
# How the files sent in place of their CSV export begin (ZIP holds .xlsx, .ods and .numbers), and what each one is.
_NOT_TEXT = (
    (
        b"PK\x03\x04",
        "an Excel workbook (.xlsx) or another spreadsheet program's file",
        "un classeur Excel (.xlsx) ou le fichier d'un autre tableur",
    ),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", "un classeur Excel 97-2003 (.xls)"),
    (b"%PDF-", "a PDF document", "un document PDF"),
)


@dataclass(frozen=True, slots=True)
class AcceptedRow:
    row_number: int
    envelopes: tuple[Envelope, ...]
    # No order number: the row's facts are named by its content (see `_Facts.reference`).
    named_by_content: bool = False
    # A date read either way (`03/10/2026`) in a column none of whose dates told day from month: read as guessed.
    date_order_guessed: bool = False


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row_number: int
    # `field` is the column header as the file writes it (`$` for the row as a whole).
    errors: tuple[FieldError, ...]


RowOutcome = AcceptedRow | RejectedRow


class CsvFormatError(ValueError):
    """The file as a whole cannot be imported (no header, a required column missing); said in English and French."""

    def __init__(
        self, code: str, en: str, fr: str, *, headers_found: Iterable[str] = (), missing: Iterable[str] = ()
    ) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.fr = fr
        self.headers_found = tuple(headers_found)
        self.missing = tuple(missing)


def read_boxoffice_csv(
    stream: BinaryIO,
    *,
    organisation_id: str,
    source: str,
    mapping: ColumnMapping | None = None,
    imported_at: datetime,
) -> Iterator[RowOutcome]:
    """The outcome of each row of a box-office export, in file order, read incrementally in constant memory.

    The header is read at once, so a file missing a required column raises `CsvFormatError` before any row. Then
    each row yields an `AcceptedRow` with its events or a `RejectedRow` naming each bad cell by its column header;
    a bad row never stops the rows after it. `row_number` is the row as a spreadsheet numbers it, the header being
    row 1 unless title or blank rows come before it (it is also the file's line number unless a quoted cell spans
    several lines). A totals row (`Total`, `Sous-total`) naming no person and no order is skipped like a blank one.

    Event ids derive from the order or transaction number when the file has one, else from the row's content, so
    importing a file twice, or a re-export with its columns in another order, repeats the same ids.
    """
    if imported_at.utcoffset() is None:
        raise ValueError("imported_at must carry its UTC offset")
    settings = mapping or ColumnMapping()
    source_uri(organisation_id, source)  # refuses a malformed source before any work
    date_orders = _date_orders(stream, settings)
    month_first = date_orders.month_first
    opened = _opened(stream)
    lines = BoundedLines(opened.text, MAX_LINE_CHARS)
    line_iterator = _Rereadable(lines)
    delimiter, header, columns, rows_above = _header(line_iterator, settings)
    timed_date = settings.timed_date(columns)
    if timed_date is None:
        # A time column that completes no date of the performance (an `Heure` beside an order date) is not read, as
        # before time columns were: the file's rows keep their ids.
        columns.pop(F.PERFORMANCE_TIME, None)
    zone = settings.zone
    context = _FileContext(
        organisation_id=organisation_id,
        source=source,
        settings=settings,
        zone=zone,
        imported_at=imported_at,
        columns=columns,
        header_size=len(header),
        delimiter=delimiter,
        headers={
            name: columns[name].header if name in columns else settings.headers[name][0] for name in BoxOfficeField
        },
        dates_the_performance=settings.dates_the_performance(columns),
        timed_date=timed_date,
        performance_date=(
            None
            if settings.performance_date is None
            else parse_moment(settings.performance_date, zone=zone, date_format=settings.date_format)
        ),
        status_columns=tuple(
            Column(index, text)
            for index, text in enumerate(header)
            if header_key(text) in {header_key(status) for status in settings.headers[F.STATUS]}
        ),
        amount=_remembering(parse_amount),
        quantity=_remembering(parse_quantity),
        moments={
            name: _remembering(
                functools.partial(
                    parse_moment, zone=zone, date_format=settings.date_format, month_first=name in month_first
                )
            )
            for name in _DATE_FIELDS
        },
        time_of_day=_remembering(parse_time_of_day),
        unproven_date_orders=date_orders.unproven,
    )
    taken = _TakenLines(line_iterator)
    records = csv.reader(taken, delimiter=delimiter, strict=False)
    return _outcomes(records, lines, taken, context, header_row=rows_above + 1)


def _opened(stream: BinaryIO) -> OpenedText:
    """The file as text; raises `CsvFormatError` for a workbook or a document sent in place of its CSV export."""
    opened = open_text(stream)
    for signature, en, fr in _NOT_TEXT:
        if opened.first_bytes.startswith(signature):
            raise CsvFormatError(
                "not_csv",
                en=f"The file is {en}, not a CSV export: save it as CSV (in Excel: File, Save As, CSV UTF-8) and "
                "send that file.",
                fr=f"Le fichier est {fr}, pas un export CSV : enregistrez-le en CSV (dans Excel : Fichier, "
                "Enregistrer sous, CSV UTF-8) et envoyez ce fichier.",
            )
    return opened


@dataclass(frozen=True)
class _DateOrders:
    # The date columns read month first (see `_date_orders`).
    month_first: frozenset[BoxOfficeField]
    # Those whose order none of their own dates proves: a date there that reads either way is read as guessed.
    unproven: frozenset[BoxOfficeField]


def _date_orders(stream: BinaryIO, settings: ColumnMapping) -> _DateOrders:
    """The date columns whose numeric dates are read month first (`05/14/2026`, as US exports write them); the
    others are read day first, as Québec's are (`14/05/2026`, and Zeffy's payments export).

    A column is month first when one of its dates can only be (its second number is over 12) and none can only be
    day first. A column none of whose dates tells (`05/04/2026` reads either way) follows the file's other date
    columns when they all say month first, and is day first otherwise. The file is read here once, before its rows
    are, and put back where it was: a row read at the start cannot wait for a date at the end to tell its order. With
    a `date_format`, or a stream that cannot be put back, every column is day first.
    """
    if settings.date_format is not None or not stream.seekable():
        return _DateOrders(frozenset(), frozenset())
    start = stream.tell()
    try:
        lines = _Rereadable(BoundedLines(_opened(stream).text, MAX_LINE_CHARS))
        delimiter, _header_cells, columns, _rows_above = _header(lines, settings)
        dated = {name: columns[name].index for name in _DATE_FIELDS if name in columns}
        proven: dict[BoxOfficeField, set[DateOrder]] = {name: set() for name in dated}
        if dated:
            try:
                for cells in csv.reader(lines, delimiter=delimiter, strict=False):
                    for name, index in dated.items():
                        order = proven_date_order(_cell_text(cells[index])) if index < len(cells) else None
                        if order is not None:
                            proven[name].add(order)
                    # Only a day-first date settles a column: a month-first one may still meet a day-first one.
                    if all(DateOrder.DAY_FIRST in orders for orders in proven.values()):
                        break
            except csv.Error:
                # The import itself reports the row; the dates read until then still tell their order.
                pass
    finally:
        stream.seek(start)
    month_first = {name for name, orders in proven.items() if orders == {DateOrder.MONTH_FIRST}}
    if month_first and not any(DateOrder.DAY_FIRST in orders for orders in proven.values()):
        month_first.update(name for name, orders in proven.items() if not orders)
    return _DateOrders(frozenset(month_first), frozenset(name for name, orders in proven.items() if not orders))


class _Rereadable(Iterator[str]):
    """Lines, those read ahead and given back coming again before the rest."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._given_back: list[str] = []

    def __next__(self) -> str:
        return self._given_back.pop() if self._given_back else next(self._lines)

    def give_back(self, lines: list[str]) -> None:
        self._given_back.extend(reversed(lines))


def _header(lines: _Rereadable, settings: ColumnMapping) -> tuple[str, list[str], dict[BoxOfficeField, Column], int]:
    """The delimiter, the header, its columns, and how many rows a spreadsheet shows above it.

    Reports often start with a title, a date range or blank rows: the header is the first of the first few lines
    that has every required column. When none has, the first line that is not blank is taken for the header, and
    its missing columns are said.
    """
    directive: str | None = None
    rows_above = 0
    refusal: CsvFormatError | None = None
    for line in lines:
        if directive is None and rows_above == 0 and refusal is None:
            directive = _directive_delimiter(line)
            if directive is not None:
                # Excel reads this line as a setting and shows no row for it.
                continue
        record = _whole_record(line, lines, directive)
        delimiter = directive or _sniffed_delimiter(record)
        header = [" ".join(cell.split()) for cell in _first_record(record, delimiter)]
        if not any(header):
            if line.strip() and refusal is None:
                refusal = CsvFormatError(
                    "no_header", en="The file has no header row.", fr="Le fichier n'a pas de ligne d'en-têtes."
                )
            rows_above += 1
            continue
        columns = settings.locate(header)
        try:
            _check_required_columns(columns, header, settings)
        except CsvFormatError as exc:
            refusal = refusal or exc
            rows_above += 1
            if rows_above >= _HEADER_SEARCH_ROWS:
                raise refusal from None
            continue
        return delimiter, header, columns, rows_above
    raise refusal or CsvFormatError("empty_file", en="The file is empty.", fr="Le fichier est vide.")


def _whole_record(line: str, lines: _Rereadable, directive: str | None) -> list[str]:
    """`line` and the lines that continue it while a quoted cell is still open at its end: one row of the
    spreadsheet, such as a header whose cells wrap their titles on two lines. A quote still open after
    `_HEADER_CELL_LINES` more lines, or at the end of the file, was never closed (a slip, not a wrapped title): `line`
    is read alone, and the lines after it are given back to be read as rows."""
    record = [line]
    while _ends_in_an_open_cell(record, directive):
        following = next(lines, None) if len(record) <= _HEADER_CELL_LINES else None
        if following is None:
            lines.give_back(record[1:])
            return [line]
        record.append(following)
    return record


def _ends_in_an_open_cell(record: list[str], directive: str | None) -> bool:
    cells = _first_record(record, directive or _sniffed_delimiter(record))
    # A cell still open where the text ends keeps its line break; a closed one never ends with one.
    return bool(cells) and cells[-1].endswith(("\n", "\r"))


def _directive_delimiter(line: str) -> str | None:
    """Excel's `sep=;` first line, which names the delimiter outright."""
    # Only the line break goes: the delimiter named may be a tab.
    stripped = line.rstrip("\r\n").strip(" ")
    return stripped[4] if len(stripped) == len("sep=;") and stripped.lower().startswith("sep=") else None


def _sniffed_delimiter(header_lines: list[str]) -> str:
    """The delimiter that splits the header into the most cells; ties go to tab, then `;`, then `,`."""
    counts = {delimiter: len(_first_record(header_lines, delimiter)) for delimiter in _DELIMITERS}
    return max(_DELIMITERS, key=lambda delimiter: counts[delimiter])


def _first_record(lines: list[str], delimiter: str) -> list[str]:
    """The cells of the record `lines` begin; none when it cannot be read as CSV (a cell longer than the csv
    module reads, in a corrupt file or a document sent by mistake), so that such a line is no header."""
    try:
        return next(csv.reader(lines, delimiter=delimiter), [])
    except csv.Error:
        return []


def _check_required_columns(
    columns: Mapping[BoxOfficeField, Column], header: list[str], settings: ColumnMapping
) -> None:
    # Each requirement is met by any one of its alternatives; an alternative needs all of its fields.
    missing: list[tuple[tuple[BoxOfficeField, ...], ...]] = []
    if F.AMOUNT not in columns and F.UNIT_PRICE not in columns:
        missing.append(((F.AMOUNT,), (F.UNIT_PRICE,)))
    names_someone = any(name in columns for name in _IDENTIFYING) or (
        F.FIRST_NAME in columns and F.LAST_NAME in columns
    )
    if not names_someone:
        missing.append(((F.EMAIL,), (F.PHONE,), (F.CUSTOMER_ID,), (F.FIRST_NAME, F.LAST_NAME)))
    # Without a type column every row is of the default type; tickets need to know which performance.
    if F.TYPE not in columns and settings.default_type is RowKind.TICKET:
        if F.SHOW not in columns:
            missing.append(((F.SHOW,),))
        if (
            F.PERFORMANCE_DATE not in columns
            and settings.performance_date is None
            and not settings.dates_the_performance(columns)
        ):
            missing.append(((F.PERFORMANCE_DATE,),))
    missing += [((name,),) for name in sorted(settings.explicit) if name not in columns]
    # The performance time a mapping names completes the performance's date, which the file must then have.
    timed_without_date = (
        F.PERFORMANCE_TIME in settings.explicit
        and F.PERFORMANCE_TIME in columns
        and settings.timed_date(columns) is None
    )
    if timed_without_date and ((F.PERFORMANCE_DATE,),) not in missing:
        missing.append(((F.PERFORMANCE_DATE,),))
    if not missing:
        return
    found = ", ".join(repr(cell) for cell in header if cell) or "none"
    hint = (
        _ONE_PERFORMANCE_HINT
        if ((F.PERFORMANCE_DATE,),) in missing and not timed_without_date
        else {"en": "", "fr": ""}
    )
    raise CsvFormatError(
        "missing_columns",
        en=f"The file lacks required columns: {_requirements(missing, settings, 'or', 'and')}. Columns found: {found}."
        + (f" {hint['en'].capitalize()}." if hint["en"] else ""),
        fr=f"Il manque au fichier des colonnes obligatoires : {_requirements(missing, settings, 'ou', 'et')}. "
        f"Colonnes trouvées : {found}." + (f" {hint['fr'].capitalize()}." if hint["fr"] else ""),
        headers_found=[cell for cell in header if cell],
        missing=[name.value for group in missing for alternative in group for name in alternative],
    )


_ONE_PERFORMANCE_HINT = {
    "en": "a file of one performance may name it in its mapping: performance_date: 2026-10-17 20:00",
    "fr": "le fichier d'une seule représentation peut la donner dans sa correspondance : "
    "performance_date: 2026-10-17 20:00",
}


def _requirements(
    missing: list[tuple[tuple[BoxOfficeField, ...], ...]], settings: ColumnMapping, or_word: str, and_word: str
) -> str:
    def expected(name: BoxOfficeField) -> str:
        return f"{name.value} ({' / '.join(settings.headers[name][:4])})"

    return "; ".join(
        f" {or_word} ".join(f" {and_word} ".join(expected(name) for name in alternative) for alternative in group)
        for group in missing
    )


@dataclass(frozen=True)
class _FileContext:
    organisation_id: str
    source: str
    settings: ColumnMapping
    zone: ZoneInfo
    imported_at: datetime
    columns: Mapping[BoxOfficeField, Column]
    header_size: int
    delimiter: str
    # Each field's column header as written in the file, or its usual header when the file has no such column.
    headers: Mapping[BoxOfficeField, str]
    # Every column a status header names (`Statut` and `Statut du paiement`): a row any of them says is no sale is
    # not imported, or imported as a refund (see `_paid_back`).
    status_columns: tuple[Column, ...]
    # A ticket without a performance date is for the row's date (see `ColumnMapping.dates_the_performance`), or else
    # for the performance the mapping names.
    dates_the_performance: bool
    performance_date: Moment | None
    # The date column the time column completes (see `ColumnMapping.timed_date`); None when the file has no time
    # column it reads.
    timed_date: BoxOfficeField | None
    # This file's cell parsers, each giving the value and its canonical text; dates by column, since a column's
    # order (day or month first) is its own.
    amount: "_CellParser[Amount]"
    quantity: "_CellParser[int]"
    moments: "Mapping[BoxOfficeField, _CellParser[Moment]]"
    time_of_day: "_CellParser[time]"
    # Date columns whose order (day or month first) none of their own dates proves.
    unproven_date_orders: frozenset[BoxOfficeField] = frozenset()


_CellParser = Callable[[str], tuple[T, str]]


def _remembering(parse: Callable[[str], T]) -> _CellParser[T]:
    """`parse` with the canonical text of its value, both remembered for the last few thousand distinct cells.

    Values are immutable, so rows may share them; a cell that fails to parse raises again each time.
    """

    @functools.lru_cache(maxsize=_REMEMBERED_CELLS)
    def parsed(text: str) -> tuple[T, str]:
        value = parse(text)
        return value, _canonical(value)

    return parsed


class _TakenLines(Iterator[str]):
    """The lines the csv reader takes, those of the record under way kept: a record whose quote is never closed
    gives back all but its first line (see `_outcomes`)."""

    def __init__(self, lines: _Rereadable) -> None:
        self.lines = lines
        self.taken: list[str] = []

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line

    def unclosed_quote(self, delimiter: str) -> bool:
        """Whether the record just read is a line whose quote is never closed: one taking more lines than a cell
        wraps (`_ROW_CELL_LINES`), or ending with its quote still open at the end of the file."""
        return len(self.taken) > 1 and (
            len(self.taken) > _ROW_CELL_LINES or _ends_in_an_open_cell(self.taken, delimiter)
        )

    def give_back_all_but_the_first(self) -> None:
        self.lines.give_back(self.taken[1:])
        self.taken.clear()


# A number as Excel shows and saves one too long for its column: `1,23457E+12`, `1.2E+13`.
_EXCEL_SCIENTIFIC = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")

# A cell of a row may wrap over a few lines (a note, an address); a quote still open after this many was never
# closed: read on, it would take every row after it into one cell.
_ROW_CELL_LINES = 20


def _outcomes(
    records: Iterator[list[str]],
    lines: BoundedLines,
    taken: _TakenLines,
    context: _FileContext,
    *,
    header_row: int,
) -> Iterator[RowOutcome]:
    row_number = header_row
    runs = _Ranks(_RunCounter(), _RunCounter())
    while True:
        overlong_before = lines.overlong
        taken.taken.clear()
        try:
            cells = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            row_number += 1
            if len(taken.taken) > 1:
                # Read on from a quote never closed until a cell grew past what the csv module takes.
                taken.give_back_all_but_the_first()
                yield _unclosed_quote(row_number)
                continue
            yield _rejected_row(
                row_number,
                f"cannot be read as CSV ({exc})",
                f"ne peut pas être lue comme du CSV ({_csv_error_fr(exc)})",
                "malformed_row",
            )
            continue
        row_number += 1
        if taken.unclosed_quote(context.delimiter):
            taken.give_back_all_but_the_first()
            yield _unclosed_quote(row_number)
            continue
        if lines.overlong > overlong_before:
            yield _rejected_row(
                row_number,
                f"has a line longer than {MAX_LINE_CHARS} characters",
                f"a une ligne de plus de {MAX_LINE_CHARS} caractères",
                "line_too_long",
            )
        elif any(cell.strip() for cell in cells) and not _is_totals_row(cells, context):
            yield _row_outcome(cells, row_number, context, runs)


def _unclosed_quote(row_number: int) -> RejectedRow:
    return _rejected_row(
        row_number,
        'opens a quote (") it never closes: the row is read no further, and the rows after it are read as rows',
        "ouvre un guillemet (\") qu'elle ne ferme pas : la ligne n'est pas lue, et les lignes qui la suivent sont lues "
        "comme des lignes",
        "unclosed_quote",
    )


def _csv_error_fr(exc: csv.Error) -> str:
    """What the csv module says, in French where it is one of the errors an export can meet."""
    text = str(exc)
    if match := re.fullmatch(r"field larger than field limit \((\d+)\)", text):
        return f"une cellule dépasse {int(match[1]):,} caractères".replace(",", "\u00a0")
    if "NUL" in text or "null byte" in text:
        return "elle contient un caractère nul"
    return text


def _is_totals_row(cells: list[str], context: _FileContext) -> bool:
    """A report's totals or subtotals row: a cell labels it so, and it names no person and no order."""
    if not any(_is_totals_label(cell) for cell in cells):
        return False
    naming = (*_IDENTIFYING, F.ORDER_ID, F.FIRST_NAME, F.LAST_NAME)
    return not any(
        (column := context.columns.get(name)) is not None
        and column.index < len(cells)
        and (text := _cell_text(cells[column.index]))
        and not _is_totals_label(text)
        for name in naming
    )


def _is_totals_label(cell: str) -> bool:
    # The cheap test first: it runs on every cell of every row, and almost none holds the word.
    return "tot" in cell.lower() and _TOTALS_LABEL.match(" ".join(plain(cell).split())) is not None


def _rejected_row(row_number: int, reason: str, reason_fr: str, code: str) -> RejectedRow:
    error = FieldError(field=WHOLE_ROW, reason=f"the row {reason}", reason_fr=f"la ligne {reason_fr}", code=code)
    return RejectedRow(row_number, (error,))


@dataclass
class _KeySeen:
    contents: set[int]
    highest: int


class _RunCounter:
    """The rank that tells apart rows sharing one key (an order's performance and price category), the same at every
    import of the file.

    Rows in a run of neighbours with one key are ranked 1, 2, 3…: exports write one row per attendee of an order, and
    two rows alike there are two tickets. A row of a key met earlier in the file is ranked in its run the same way
    when what it says was said there already (the same rows exported twice, a duplicate); when it says something new
    (an attendee report sorted by name spreads an order out), it is ranked after every row of the key so far.

    Only the last `remembered` distinct keys are kept, as hashes, so a huge file is read in bounded memory; a key
    met again further apart than that is taken for a new one.
    """

    def __init__(self, remembered: int = 100_000) -> None:
        # In the order keys were last seen: the one unseen longest goes first.
        self._seen: OrderedDict[int, _KeySeen] = OrderedDict()
        self._remembered = remembered
        self._previous_run: int | None = None
        # The rank each key reached in the run under way.
        self._in_run: dict[int, int] = {}

    def occurrence(self, key: tuple[str, ...], content: str, *, run: tuple[str, ...] | None = None) -> int:
        """The row's rank among the rows of `key`. Neighbours of one `run` (an order's rows, whatever their
        performance and category; by default the key's own) are one run: an order of a regular, a child's and another
        regular ticket has its two regular tickets ranked 1 and 2, not both 1."""
        hashed, said = hash(key), hash(content)
        run_hashed = hashed if run is None else hash(run)
        if run_hashed != self._previous_run:
            self._previous_run = run_hashed
            self._in_run.clear()
        seen = self._seen.get(hashed)
        if seen is None:
            seen = self._seen[hashed] = _KeySeen(set(), 0)
            if len(self._seen) > self._remembered:
                self._seen.popitem(last=False)
        self._seen.move_to_end(hashed)
        rank = self._in_run.get(hashed, 0) + 1
        if said not in seen.contents and rank <= seen.highest:
            # Something new under a key met before: a row of its own, after all the others.
            rank = seen.highest + 1
        self._in_run[hashed] = rank
        seen.contents.add(said)
        seen.highest = max(seen.highest, rank)
        return rank


@dataclass(frozen=True)
class _Ranks:
    """Two rankings of a file's rows. A paid row is ranked among the paid rows alone, as before refunded rows were
    imported, so a file imported then keeps its ids. A refunded row is ranked among every row, refunded or not, which
    is its rank in an export made before the refund, where it was a sale: its refund then names the tickets that
    sale bought (and, in a file imported with its refunded row before, the tickets of another row of its order)."""

    paid_rows: _RunCounter
    every_row: _RunCounter


class _Row:
    def __init__(self, cells: list[str], number: int, context: _FileContext) -> None:
        self.number = number
        self.context = context
        self.cells = cells
        self.problems = Problems()
        self.values: dict[BoxOfficeField, str] = {}
        for name, column in context.columns.items():
            if column.index < len(cells) and (value := _cell_text(cells[column.index])):
                self.values[name] = value
        # Values as parsed (`45,00 $` → `45.00`), so that the id made from a row's content does not depend on how
        # an export happened to format it.
        self.parsed_values: dict[BoxOfficeField, str] = {}
        # Fields whose value another field's parsed value holds: a performance's time, once in its date's, so that a
        # date and time in two columns make the same id as the same moment in one.
        self.folded: set[BoxOfficeField] = set()

    def text(self, name: BoxOfficeField) -> str | None:
        return self.values.get(name)

    def header(self, name: BoxOfficeField) -> str:
        return self.context.headers[name]

    def parsed(self, name: BoxOfficeField, parse: _CellParser[T]) -> T | None:
        text = self.values.get(name)
        if text is None:
            return None
        try:
            value, canonical = parse(text)
        except UnreadableValueError as exc:
            self.problems.add(self.context.headers[name], exc.reason, exc.code, fr=exc.reason_fr)
            return None
        self.parsed_values[name] = canonical
        return value

    def content_digest(self) -> str:
        """A digest of what the row says, by field: the same whatever the order of the columns."""
        canonical = {
            name.value: self.parsed_values.get(name) or " ".join(value.split())
            for name, value in self.values.items()
            if name not in self.folded
        }
        if F.EMAIL in self.values:
            canonical[F.EMAIL.value] = self.values[F.EMAIL].casefold()
        content = json.dumps(sorted(canonical.items()), ensure_ascii=False)
        return hashlib.sha256(content.encode()).hexdigest()[:24]

    def require(self, name: BoxOfficeField, what: str, what_fr: str) -> None:
        self.problems.add(self.header(name), f"is empty; {what}", "missing_value", fr=f"est vide ; {what_fr}")


def _cell_text(cell: str) -> str:
    value = cell.strip()
    if value.startswith('="'):
        guarded = _EXCEL_TEXT_GUARD.match(value)
        if guarded is not None:
            # `="00123"` is how exports make Excel keep leading zeros.
            return guarded.group(1).strip()
    return value


def _canonical(value: Any) -> str:
    if isinstance(value, Amount):
        return f"{value.value} {value.currency or ''}".strip()
    if isinstance(value, Moment):
        return value.at.isoformat() if value.has_time else value.at.date().isoformat()
    return str(value)


def _row_outcome(cells: list[str], number: int, context: _FileContext, runs: "_Ranks") -> RowOutcome:
    row = _Row(cells, number, context)
    extra = [cell for cell in cells[context.header_size :] if cell.strip()]
    if extra:
        shown = "tab" if context.delimiter == "\t" else repr(context.delimiter)
        return _rejected_row(
            number,
            f"has {len(cells)} cells but the header {context.header_size}: a value probably contains the "
            f"delimiter {shown} without quotes",
            f"a {len(cells)} cellules, mais l'en-tête {context.header_size} : une valeur contient sans doute le "
            f"séparateur {shown} sans guillemets",
            "too_many_cells",
        )
    drafts = _row_drafts(row, runs)
    if row.problems or drafts is None:
        return RejectedRow(number, tuple(row.problems.errors))
    envelopes = wrap(
        drafts, organisation_id=context.organisation_id, source=context.source, ingested_at=context.imported_at
    )
    guessed = any(reads_either_way(row.text(name) or "") for name in context.unproven_date_orders)
    return AcceptedRow(
        number, tuple(envelopes), named_by_content=row.text(F.ORDER_ID) is None, date_order_guessed=guessed
    )


def _row_drafts(row: _Row, runs: "_Ranks") -> list[Draft] | None:
    context = row.context
    refunded = _paid_back(row)
    if row.problems:
        return None
    kind = _row_kind(row)
    person = _person(row)
    language = language_of(person.get("locale")) or context.settings.default_language
    amount = row.parsed(F.AMOUNT, context.amount)
    unit_price = row.parsed(F.UNIT_PRICE, context.amount)
    if row.text(F.AMOUNT) is None and row.text(F.UNIT_PRICE) is None:
        row.require(F.AMOUNT, "every row needs the amount paid", "chaque ligne a besoin du montant payé")
    quantity = row.parsed(F.QUANTITY, context.quantity) or 1
    currency = _currency(row, amount, unit_price)
    performance_at = _dated(row, F.PERFORMANCE_DATE)
    paid_at = _dated(row, F.DATE)
    order_id = row.text(F.ORDER_ID)
    if order_id is not None and _EXCEL_SCIENTIFIC.fullmatch(order_id):
        # `1,23457E+12`: Excel shows a long number so and saves it as shown, its last digits gone. Two orders would
        # come under one number.
        row.problems.add(
            row.header(F.ORDER_ID),
            f"is {order_id}, an order number Excel wrote in scientific notation, its last digits lost: format the "
            "column as text before exporting",
            "number_mangled",
            fr=f"vaut {order_id}, un numéro de commande qu'Excel a écrit en notation scientifique, ses derniers "
            "chiffres perdus : mettez la colonne au format texte avant d'exporter",
        )
    channel = _channel(row)
    if row.problems or kind is None:
        return None
    total = amount.value if amount is not None else unit_price.value * quantity if unit_price is not None else None
    if total is None:
        return None
    happened = paid_at or performance_at
    time = happened.at if happened is not None else context.imported_at
    if paid_at is None and time > context.imported_at:
        # Dated by a performance still to come, the sale was made by the import at the latest: a fact dated in the
        # future would have the profile seen as of that day (its season, the opens it forgets, its triggers).
        time = context.imported_at
    builder = _BUILDERS[kind]
    fact = builder(
        _Facts(
            row=row,
            kind=kind,
            person=person,
            language=language,
            total=total,
            unit_price=unit_price.value if unit_price is not None else None,
            quantity=quantity,
            currency=currency,
            performance_at=performance_at,
            paid_at=paid_at,
            order_id=order_id,
            channel=channel,
            runs=runs,
            refunded=refunded,
        )
    )
    if fact is None:
        return None
    return [Draft(fact.data, fact.id_parts, time, subject=fact.subject, known_id=fact.known_id)]


def _dated(row: _Row, name: BoxOfficeField) -> Moment | None:
    """The moment a date column gives, at the time the time column gives when it completes this date column (see
    `ColumnMapping.timed_date`).

    A date without a time of its own takes the time column's; so does a date at midnight, as spreadsheets write a date
    cell they hold as a date and time (`2026-10-03 00:00:00`). A date with another time of its own agrees with the
    time column, or the row is refused: which of the two is the performance's cannot be told.
    """
    moment = row.parsed(name, row.context.moments[name])
    if name is not row.context.timed_date:
        return moment
    at = row.parsed(F.PERFORMANCE_TIME, row.context.time_of_day)
    if moment is None or at is None:
        return moment
    zone = row.context.zone
    if moment.has_time and moment.at.time() != time():
        own = moment.at.astimezone(zone)
        if (own.hour, own.minute) != (at.hour, at.minute):
            row.problems.add(
                row.header(F.PERFORMANCE_TIME),
                f"says {at:%H:%M} but {row.header(name)} says {own:%H:%M}: correct whichever of the two is wrong",
                "time_mismatch",
                fr=f"indique {at:%H} h {at:%M}, mais {row.header(name)} indique {own:%H} h {own:%M} : corrigez "
                "celle des deux colonnes qui se trompe",
            )
            return None
        combined = moment
    else:
        combined = Moment(datetime.combine(moment.at.date(), at, tzinfo=zone), has_time=True)
        row.parsed_values[name] = _canonical(combined)
    row.folded.add(F.PERFORMANCE_TIME)
    return combined


def _paid_back(row: _Row) -> bool:
    """Whether a status cell says the row was refunded or cancelled.

    A row whose status says it never was a sale, and a refunded one that cannot be imported as a refund (not a ticket,
    or no order number), get the reason as their problem.
    """
    said = [
        (column, status, folded)
        for column in row.context.status_columns
        if (status := _cell_text(row.cells[column.index]) if column.index < len(row.cells) else "")
        and (folded := re.sub(r"\s*/\s*", "/", " ".join(plain(status).split()))) in _NOT_A_SALE
    ]
    if not said:
        return False
    # A status saying the order was never paid outweighs another saying it was paid back.
    column, status, folded = next((cell for cell in said if cell[2] not in _REFUNDED), said[0])
    if folded not in _REFUNDED:
        row.problems.add(
            column.header,
            f"is {status!r}: a deleted, abandoned, declined or unpaid order is no payment kept, so it is not imported",
            "not_a_sale",
            fr=f"vaut {status!r} : une commande supprimée, abandonnée, refusée ou impayée n'est pas un paiement "
            "conservé, elle n'est donc pas importée",
        )
    elif _kind_named(row) not in (RowKind.TICKET, None):
        row.problems.add(
            column.header,
            f"is {status!r}: a refunded or cancelled donation, membership or season pass is no payment kept, so it is "
            "not imported",
            "not_a_sale",
            fr=f"vaut {status!r} : un don, une adhésion ou un abonnement remboursé ou annulé n'est pas un paiement "
            "conservé, il n'est donc pas importé",
        )
    elif row.text(F.ORDER_ID) is None:
        order_header = row.header(F.ORDER_ID)
        row.problems.add(
            column.header,
            f"is {status!r}: a refunded or cancelled ticket is imported as the refund of the tickets its order number "
            f"({order_header}) names, and this row has none, so it is not imported",
            "not_a_sale",
            fr=f"vaut {status!r} : un billet remboursé ou annulé est importé comme le remboursement des billets que "
            f"nomme son numéro de commande ({order_header}), et cette ligne n'en a pas, elle n'est donc pas importée",
        )
    return True


def _named_choice(
    row: _Row, name: BoxOfficeField, choices: Mapping[str, ChoiceT], reason: str, reason_fr: str, code: str
) -> ChoiceT | None:
    """The choice a cell names in French or English, or None (noted as a problem) when it names none."""
    choice = _chosen(row, name, choices)
    if choice is None:
        row.problems.add(row.header(name), reason, code, fr=reason_fr)
    return choice


def _row_kind(row: _Row) -> RowKind | None:
    kind = _kind_named(row)
    if kind is None:
        row.problems.add(
            row.header(F.TYPE),
            "should be ticket (billet), donation (don), membership (adhésion) or season pass (abonnement)",
            "row_type_unknown",
            fr="doit être billet (ticket), don (donation), adhésion (membership) ou abonnement (season pass)",
        )
    return kind


def _kind_named(row: _Row) -> RowKind | None:
    """The row's type, or None when its type cell names none."""
    if row.text(F.TYPE) is None:
        return row.context.settings.default_type
    return _chosen(row, F.TYPE, _ROW_KINDS)


def _chosen(row: _Row, name: BoxOfficeField, choices: Mapping[str, ChoiceT]) -> ChoiceT | None:
    return choices.get(plain(row.text(name) or "").replace("_", " "))


_PERSON_COLUMNS = {
    "external_id": F.CUSTOMER_ID,
    "email": F.EMAIL,
    "phone": F.PHONE,
    "first_name": F.FIRST_NAME,
    "last_name": F.LAST_NAME,
    "street": F.STREET,
    "city": F.CITY,
    "region": F.REGION,
    "postal_code": F.POSTAL_CODE,
    "country": F.COUNTRY,
    "locale": F.LANGUAGE,
}


def _person(row: _Row) -> dict[str, Any]:
    values: dict[str, Any] = {"source": row.context.source}
    for name, column in _PERSON_COLUMNS.items():
        values[name] = row.text(column)
    if values["email"] is not None and _no_email(values["email"]):
        values["email"] = None
    values["country"] = _country(row)
    values["locale"] = _locale(row)
    identified = any(values[name] for name in ("external_id", "email", "phone")) or (
        values["first_name"] and values["last_name"]
    )
    if not identified:
        where = next((name for name in _IDENTIFYING if name in row.context.columns), F.LAST_NAME)
        row.problems.add(
            row.header(where),
            "the row names nobody: it needs an email, a phone, a customer number, or both first and last name",
            "person_unidentifiable",
            fr="la ligne ne nomme personne : il lui faut un courriel, un téléphone, un numéro de client, ou un prénom "
            "et un nom",
        )
    return values


# What box-office staff type where a patron gave no email; as written, the row was refused as an invalid email.
_NO_EMAIL = frozenset({"n/a", "na", "aucun", "aucune", "none", "no email", "pas de courriel", "sans courriel"})


def _no_email(text: str) -> bool:
    return not any(character.isalnum() for character in text) or " ".join(plain(text).split()) in _NO_EMAIL


def _person_origins(headers: Mapping[BoxOfficeField, str]) -> dict[str, str]:
    origins = {f"person.{name}": headers[column] for name, column in _PERSON_COLUMNS.items()}
    origins["person"] = headers[F.EMAIL]
    return origins


def _country(row: _Row) -> str | None:
    text = row.text(F.COUNTRY)
    if text is None:
        return None
    code = country_code(text)
    if code is None:
        row.problems.add(
            row.header(F.COUNTRY),
            "should be a two-letter country code such as CA",
            "country_unknown",
            fr="doit être un code de pays à deux lettres, comme CA",
        )
    return code


def _locale(row: _Row) -> str | None:
    text = row.text(F.LANGUAGE)
    if text is None:
        return None
    locale = normalise_locale(text)
    if not _LOCALE_TAG.match(locale):
        row.problems.add(
            row.header(F.LANGUAGE),
            "should be FR or EN (français, English, or a code such as fr-CA)",
            "language",
            fr="doit être FR ou EN (français, English, ou un code comme fr-CA)",
        )
        return None
    return locale


def _currency(row: _Row, amount: Amount | None, unit_price: Amount | None) -> str:
    named = (amount and amount.currency) or (unit_price and unit_price.currency)
    if named:
        return named
    text = row.text(F.CURRENCY)
    if text is None:
        return row.context.settings.currency
    if text.upper() not in CURRENCY_CODES:
        row.problems.add(
            row.header(F.CURRENCY),
            "should be a currency code such as CAD",
            "currency_invalid",
            fr="doit être un code de devise, comme CAD",
        )
    return text.upper()


def _channel(row: _Row) -> SalesChannel:
    if row.text(F.CHANNEL) is None:
        return row.context.settings.channel
    channel = _named_choice(
        row,
        F.CHANNEL,
        _CHANNELS,
        "should be online (en ligne), box office (guichet) or phone (téléphone)",
        "doit être en ligne (online), guichet (box office) ou téléphone (phone)",
        "channel_unknown",
    )
    return channel or row.context.settings.channel


@dataclass(frozen=True)
class _Facts:
    row: _Row
    kind: RowKind
    person: dict[str, Any]
    language: Language
    total: Decimal
    unit_price: Decimal | None
    quantity: int
    currency: str
    performance_at: Moment | None
    paid_at: Moment | None
    order_id: str | None
    channel: SalesChannel
    runs: "_Ranks"
    # A status says the row was refunded or cancelled (only a ticket row with its order number gets this far).
    refunded: bool = False

    def reference(self, *distinguishing: str) -> tuple[tuple[str, ...], str]:
        """The id parts of this row's fact, and the upstream reference (order number, else one made from content).

        An order number names the fact; rows of one order are told apart by what differs between them (the
        performance, the price category) and then by their rank (see `_RunCounter`).
        """
        digest = self.row.content_digest()
        run: tuple[str, ...] | None = None
        if self.order_id is not None:
            run = ("boxoffice", self.kind.value, "order", self.order_id)
            key = (*run, *distinguishing)
            reference = self.order_id
        else:
            key = ("boxoffice", self.kind.value, "content", digest)
            reference = f"row-{digest[:16]}"
        among_all = self.runs.every_row.occurrence(key, digest, run=run)
        if self.refunded:
            return (*key, str(among_all)), reference
        return (*key, str(self.runs.paid_rows.occurrence(key, digest, run=run))), reference

    def money(self, amount: Decimal) -> dict[str, Any]:
        return {"amount": amount, "currency": self.currency}

    def validated(
        self, model: type[ModelT], values: dict[str, Any], origins: Callable[[], dict[str, str]]
    ) -> ModelT | None:
        """`values` as a `model`, or None after noting each error under the column it came from."""

        def all_origins() -> dict[str, str]:
            return {**_person_origins(self.row.context.headers), **origins()}

        return self.row.problems.validate(model, values, all_origins, whole=WHOLE_ROW)


@dataclass(frozen=True)
class _Fact:
    data: EventData
    id_parts: tuple[str, ...]
    subject: str
    known_id: str | None = None


def _ticket_purchase(facts: _Facts) -> _Fact | None:
    row = facts.row
    show = row.text(F.SHOW)
    moment = (
        facts.performance_at
        or (facts.paid_at if row.context.dates_the_performance else None)
        or row.context.performance_date
    )
    if show is None:
        row.require(F.SHOW, "a ticket needs the show's title", "un billet a besoin du titre du spectacle")
    if moment is None and F.PERFORMANCE_DATE in row.context.columns:
        row.require(
            F.PERFORMANCE_DATE, "a ticket needs the performance date", "un billet a besoin de la date de représentation"
        )
    elif moment is None:
        row.problems.add(
            row.header(F.PERFORMANCE_DATE),
            f"is no column of the file; a ticket needs the performance date ({_ONE_PERFORMANCE_HINT['en']})",
            "missing_value",
            fr="n'est pas une colonne du fichier ; un billet a besoin de la date de représentation "
            f"({_ONE_PERFORMANCE_HINT['fr']})",
        )
    if show is None or moment is None:
        return None
    production_id = _slug(show)
    performance_id = _performance_id(production_id, moment, row.context.zone)
    category = row.text(F.PRICE_CATEGORY) or _DEFAULT_PRICE_CATEGORY[facts.language]
    id_parts, reference = facts.reference(performance_id, _category_key(category))
    fact_id = event_id(row.context.organisation_id, row.context.source, *id_parts)
    ticket_prefix = f"{reference}-{fact_id[:8]}"
    seat = row.text(F.SEAT) if facts.quantity == 1 else None
    tickets = [
        {"ticket_id": f"{ticket_prefix}-{rank}", "seat": seat, "price_category": category, "price": facts.money(price)}
        for rank, price in enumerate(_unit_prices(facts), start=1)
    ]
    values = {
        "person": facts.person,
        "order_id": reference,
        "performance": {
            "production_id": production_id,
            "title": {facts.language: show},
            "performance_id": performance_id,
            "starts_at": moment.at,
            "venue": row.text(F.VENUE),
        },
        "tickets": tickets,
        "total": facts.money(facts.total),
        "channel": facts.channel,
    }
    amount_header = row.header(F.AMOUNT if F.AMOUNT in row.context.columns else F.UNIT_PRICE)

    def origins() -> dict[str, str]:
        return {
            "order_id": row.header(F.ORDER_ID),
            "performance": row.header(F.SHOW),
            "performance.venue": row.header(F.VENUE),
            "performance.starts_at": row.header(F.PERFORMANCE_DATE),
            "tickets": row.header(F.QUANTITY),
            "tickets.price": amount_header,
            "tickets.seat": row.header(F.SEAT),
            "tickets.price_category": row.header(F.PRICE_CATEGORY),
            "total": amount_header,
        }

    purchase = facts.validated(TicketPurchasedV1, values, origins)
    if purchase is None:
        return None
    if facts.refunded:
        return _refund_of(purchase, id_parts)
    return _Fact(purchase, id_parts, f"order/{reference}", fact_id)


def _refund_of(purchase: TicketPurchasedV1, id_parts: tuple[str, ...]) -> _Fact:
    """The refund of every ticket the row bought, for the amount the row says.

    The row gives the same ticket ids whatever its status (they derive from its order, performance, price category
    and rank), so the refund names the tickets the earlier export of the row bought, and the profile pays that
    purchase back. Its own id derives from the purchase's parts, so importing the file again repeats it.
    """
    refund = TicketRefundedV1(
        person=purchase.person,
        order_id=purchase.order_id,
        ticket_ids=[ticket.ticket_id for ticket in purchase.tickets],
        amount=purchase.total,
    )
    return _Fact(refund, (*id_parts, "refunded"), f"order/{purchase.order_id}")


def _unit_prices(facts: _Facts) -> tuple[Decimal, ...]:
    """Each ticket's price: the unit price when the file gives it, else the total shared out to the cent."""
    if facts.unit_price is not None:
        return (facts.unit_price,) * facts.quantity
    return _shares(facts.total, facts.quantity)


@functools.lru_cache(maxsize=_REMEMBERED_CELLS)
def _shares(total: Decimal, quantity: int) -> tuple[Decimal, ...]:
    """`total` shared out to the cent, the first shares taking the odd cents, so they always add up to it."""
    base = (total / quantity).quantize(_CENT, rounding=ROUND_DOWN)
    odd_cents = int((total - base * quantity) / _CENT)
    return tuple(base + _CENT if rank < odd_cents else base for rank in range(quantity))


def _donation(facts: _Facts) -> _Fact | None:
    row = facts.row
    campaign = row.text(F.CAMPAIGN) or row.text(F.SHOW)
    id_parts, reference = facts.reference()
    # A profile counts a gift once per donation id: the second gift of one order (a gift in memory of someone beside
    # the annual campaign's) is named by its rank among the order's gifts, as its event id is.
    rank = int(id_parts[-1])
    values = {
        "person": facts.person,
        "donation_id": reference if rank == 1 else f"{reference}#{rank}",
        "amount": facts.money(facts.total),
        "campaign": None if campaign is None else {facts.language: campaign},
    }

    def origins() -> dict[str, str]:
        return {
            "donation_id": row.header(F.ORDER_ID),
            "amount": row.header(F.AMOUNT),
            "campaign": row.header(F.CAMPAIGN if F.CAMPAIGN in row.context.columns else F.SHOW),
        }

    donation = facts.validated(DonationMadeV1, values, origins)
    return None if donation is None else _Fact(donation, id_parts, f"donation/{reference}")


def _subscription(facts: _Facts) -> _Fact | None:
    row = facts.row
    plan = row.text(F.PRICE_CATEGORY) or row.text(F.SHOW) or row.text(F.CAMPAIGN)
    if plan is None:
        row.require(
            F.PRICE_CATEGORY,
            "a membership or season pass needs the name of its plan",
            "une adhésion ou un abonnement a besoin du nom de sa formule",
        )
        return None
    started = facts.paid_at or facts.performance_at
    starts_on = (started.at if started else row.context.imported_at).astimezone(row.context.zone).date()
    # `9999-12-31` (or `31/12/9999`), as exports write a membership that never ends: no end, not a date refused.
    never_ends = _NEVER.search(row.text(F.END_DATE) or "") is not None
    ends = None if never_ends else row.parsed(F.END_DATE, row.context.moments[F.END_DATE])
    if row.problems:
        return None
    id_parts, reference = facts.reference()
    kind = SubscriptionKind.SEASON_PASS if facts.kind is RowKind.SEASON_PASS else SubscriptionKind.MEMBERSHIP
    values = {
        "person": facts.person,
        "subscription_id": reference,
        "kind": kind,
        "plan": {facts.language: plan},
        "starts_on": starts_on,
        "ends_on": None if ends is None else ends.at.astimezone(row.context.zone).date(),
        "price": facts.money(facts.total),
    }

    def origins() -> dict[str, str]:
        return {
            "subscription_id": row.header(F.ORDER_ID),
            "plan": row.header(F.PRICE_CATEGORY),
            "ends_on": row.header(F.END_DATE),
            "price": row.header(F.AMOUNT),
        }

    subscription = facts.validated(SubscriptionPurchasedV1, values, origins)
    return None if subscription is None else _Fact(subscription, id_parts, f"subscription/{reference}")


# The year exports give a membership that never ends.
_NEVER = re.compile(r"(?<!\d)9999(?!\d)")


_BUILDERS: dict[RowKind, Callable[[_Facts], _Fact | None]] = {
    RowKind.TICKET: _ticket_purchase,
    RowKind.DONATION: _donation,
    RowKind.MEMBERSHIP: _subscription,
    RowKind.SEASON_PASS: _subscription,
}


# Exports repeat a handful of titles and categories thousands of times.
@functools.lru_cache(maxsize=1024)
def _category_key(category: str) -> str:
    return plain(category)


@functools.lru_cache(maxsize=1024)
def _performance_id(production_id: str, moment: Moment, zone: ZoneInfo) -> str:
    local = moment.at.astimezone(zone)
    return f"{production_id}-{local:%Y-%m-%d}" + (f"-{local:%Hh%M}" if moment.has_time else "")


@functools.lru_cache(maxsize=1024)
def _slug(title: str) -> str:
    """A production id from its title, the same however the title is typed: `Les Belles-sœurs` → `les-belles-soeurs`."""
    slug = re.sub(r"[^a-z0-9]+", "-", plain(title)).strip("-")[:120].strip("-")
    return slug or f"production-{hashlib.sha256(title.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Rejection:
    row_number: int
    column: str
    reason: str
    code: str
    reason_fr: str


@dataclass(frozen=True)
class Notice:
    """Something an import did that the staff should know, in English and French; not a rejection."""

    code: str
    message: str
    message_fr: str


@dataclass
class ImportReport:
    """A running summary of an import, for the CLI and the upload endpoint: fold each outcome in with `add`."""

    max_examples: int = 50
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    events: int = 0
    # By error code; a row rejected for two reasons counts under both.
    rejections_by_reason: Counter[str] = field(default_factory=Counter)
    first_rejections: list[Rejection] = field(default_factory=list)
    # Accepted rows without an order number, recognised again by their content alone.
    named_by_content: int = 0
    # Accepted rows with a date read either way, in a column that told no order: read day first, or as the file's
    # other date columns proved.
    date_order_guessed: int = 0

    def add(self, outcome: RowOutcome) -> None:
        self.rows_read += 1
        if isinstance(outcome, AcceptedRow):
            self.accepted += 1
            self.events += len(outcome.envelopes)
            self.named_by_content += outcome.named_by_content
            self.date_order_guessed += outcome.date_order_guessed
            return
        self.rejected += 1
        for error in outcome.errors:
            self.rejections_by_reason[error.code] += 1
            if len(self.first_rejections) < self.max_examples:
                self.first_rejections.append(
                    Rejection(outcome.row_number, error.field, error.reason, error.code, error.reason_fr)
                )

    def follow(self, outcomes: Iterable[RowOutcome]) -> Iterator[RowOutcome]:
        """`outcomes`, unchanged, each added to the report as it passes."""
        for outcome in outcomes:
            self.add(outcome)
            yield outcome

    def notices(self) -> list[Notice]:
        """What the staff should know of the rows accepted: a row named by its content alone is a new row once
        corrected, and an import of the corrected file counts it a second time; a date that reads either way in a
        column that settles no order was read day first, which may not be what the box office meant."""
        notices = []
        if self.named_by_content:
            notices.append(self._named_by_content_notice())
        if self.date_order_guessed:
            notices.append(self._date_order_notice())
        return notices

    def _named_by_content_notice(self) -> Notice:
        rows = self.named_by_content
        one, one_fr = is_singular(rows, "en"), is_singular(rows, "fr")
        rows_en = "accepted row has" if one else "accepted rows have"
        recognised_en = "it is recognised by its" if one else "they are recognised by their"
        message = (
            f"{format_count(rows, 'en')} {rows_en} no order number: {recognised_en} content alone, so a row "
            "corrected after this import will count twice when the file is imported again. Include the order or "
            "transaction number in the export to avoid it."
        )
        rows_fr = "ligne acceptée n'a" if one_fr else "lignes acceptées n'ont"
        recognised_fr = "elle est reconnue par son" if one_fr else "elles sont reconnues par leur"
        message_fr = (
            f"{format_count(rows, 'fr')} {rows_fr} pas de numéro de commande : {recognised_fr} contenu seulement, "
            "et une ligne corrigée après cette importation comptera deux fois quand le fichier sera importé de "
            "nouveau. Exportez le numéro de commande ou de transaction pour l'éviter."
        )
        return Notice("named_by_content", message, message_fr)

    def _date_order_notice(self) -> Notice:
        rows = self.date_order_guessed
        one, one_fr = is_singular(rows, "en"), is_singular(rows, "fr")
        rows_en = "accepted row has a date" if one else "accepted rows have dates"
        rows_fr = "ligne acceptée a une date" if one_fr else "lignes acceptées ont des dates"
        message = (
            f"{format_count(rows, 'en')} {rows_en} that read either way (03/10/2026) in a column where no date tells "
            "the day from the month: read day first (3 October), as Québec writes them. If your box office writes the "
            "month first, set date_format in the column mapping; a dry run shows this before anything is imported."
        )
        message_fr = (
            f"{format_count(rows, 'fr')} {rows_fr} qui se lisent dans les deux sens (03/10/2026), dans une colonne où "
            "aucune date ne distingue le jour du mois : lues le jour d'abord (3 octobre), comme au Québec. Si votre "
            "billetterie écrit le mois d'abord, indiquez date_format dans la correspondance des colonnes ; un essai à "
            "blanc le montre avant toute importation."
        )
        return Notice("date_order_guessed", message, message_fr)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "events": self.events,
            "named_by_content": self.named_by_content,
            "date_order_guessed": self.date_order_guessed,
            "notices": [
                {"code": notice.code, "message": notice.message, "message_fr": notice.message_fr}
                for notice in self.notices()
            ],
            "rejections_by_reason": dict(self.rejections_by_reason.most_common()),
            "first_rejections": [
                {
                    "row": example.row_number,
                    "column": example.column,
                    "reason": example.reason,
                    "reason_fr": example.reason_fr,
                    "code": example.code,
                }
                for example in self.first_rejections
            ],
        }
