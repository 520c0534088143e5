"""Reading the values people type in box-office spreadsheets: amounts, dates and times, quantities, codes."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from services.ingest.domain.drafts import plain

# Grouping spaces seen in exports: ordinary, no-break (U+00A0), narrow no-break (U+202F, French typography),
# thin and figure spaces; apostrophes group thousands in Swiss-style exports.
_GROUP_MARKS = " \u00a0\u202f\u2009\u2007'’"
_GROUPING = str.maketrans("", "", _GROUP_MARKS)
# Digits set apart by spaces (or apostrophes) group thousands, three by three: `1 234 567,89`.
_GROUPED_BY_THOUSANDS = re.compile(rf"\d{{1,3}}(?:[{_GROUP_MARKS}]+\d{{3}})+(?:[.,]\d+)?")
_DIGITS_SET_APART = re.compile(rf"\d[{_GROUP_MARKS}]+\d")
_SYMBOLS = {
    **dict.fromkeys(("CA$", "C$", "$CA", "CDN$", "$CDN", "CAN$", "$CAN"), "CAD"),
    **dict.fromkeys(("US$", "$US"), "USD"),
    "€": "EUR",
    "£": "GBP",
    "$": None,
}
# `12,50 $ CA`, as the Office québécois de la langue française writes Canadian dollars.
_SPACED_SYMBOL = re.compile(r"\$\s+(CA|US|CAN|CDN)(?![A-Za-z])", re.IGNORECASE)
# A symbol ending in letters is not the start of a code: `$CAD` and `$USD` are `$` before a code, not `$CA` and `$US`.
_SYMBOL_PATTERN = re.compile(
    "|".join(
        re.escape(symbol) + ("(?![A-Za-z])" if symbol[-1].isalpha() else "")
        for symbol in sorted(_SYMBOLS, key=len, reverse=True)
    )
)
_CODE_PATTERN = re.compile(r"(?<![A-Za-z])([A-Za-z]{3})(?![A-Za-z])")
# Canadian dollars as people abbreviate them.
_CODE_ALIASES = {"CDN": "CAD", "CAN": "CAD"}
_SALES_TAX = "(?:tps|tvq|tvh|gst|qst|hst|pst|tvp)"
# Notes on taxes written beside a price (`12,50 $ TTC`, `45 $ taxes incluses`, `20 $ + tx`): not a currency.
_TAX_NOTE = re.compile(
    r"(?<![a-z])(?:ttc|ht|hors taxes?|(?:tax(?:es)?|tx)\s+(?:incl(?:us(?:es?)?|uded)?|compris(?:es)?)\.?|"
    r"incl\.?\s+(?:tax(?:es)?|tx)|\+\s*(?:tax(?:es)?|tx)|"
    # Canada's sales taxes by their French and English names, alone or together: `+ TPS/TVQ`, `+ GST + QST`.
    rf"(?:\+\s*)?{_SALES_TAX}(?:\s*[/+&,]\s*{_SALES_TAX})*)(?![a-z])",
    re.IGNORECASE,
)
# The ISO 4217 codes of money people pay with (funds, metals and testing codes left out).
CURRENCY_CODES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()  # noqa: SIM905 (read as a table)
)
_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("999999999999.99")
# `19:30`, `19 h 30`, `19h`, `19:30:00`, `7:30 PM`, `7:30 p.m.`, `7 PM`
_CLOCK = (
    r"(?P<hour>\d{1,2})(?:\s*[:h]\s*(?P<minute>\d{2})?(?::(?P<second>\d{2}))?|(?=\s*[ap]\.?\s*m\b))"
    r"(?:\s*(?P<half>[ap]\.?\s*m\.?))?"
)
# `a` is `à` once a long date is folded by `plain`.
_AFTER_DATE = rf"(?:[ T,]+(?:(?:à|a|at)\s+)?{_CLOCK})?"
_DAY_FIRST = re.compile(
    rf"^(?P<day>\d{{1,2}})[/.-](?P<month>\d{{1,2}})[/.-](?P<year>\d{{4}}){_AFTER_DATE}$", re.IGNORECASE
)
# Also ISO's own date with a time ISO does not read: `2026-10-03 19 h 30`, `2026-10-03 7:30 PM`.
_YEAR_FIRST = re.compile(
    rf"^(?P<year>\d{{4}})(?P<separator>[/.-])(?P<month>\d{{1,2}})(?P=separator)(?P<day>\d{{1,2}}){_AFTER_DATE}$",
    re.IGNORECASE,
)
# A long date, as Excel writes it in French or English: `jeudi 5 mars 2026`, `1er août 2026`, `March 5, 2026`; with
# the abbreviations and three-letter codes of the Office québécois de la langue française too (`juill.`, `AOÛ`).
_MONTHS = {
    **dict.fromkeys(("janvier", "janv", "january", "jan"), 1),
    **dict.fromkeys(("fevrier", "fevr", "fev", "february", "feb"), 2),
    **dict.fromkeys(("mars", "march", "mar"), 3),
    **dict.fromkeys(("avril", "avr", "april", "apr"), 4),
    **dict.fromkeys(("mai", "may"), 5),
    **dict.fromkeys(("juin", "june", "jun"), 6),
    **dict.fromkeys(("juillet", "juill", "juil", "july", "jul"), 7),
    **dict.fromkeys(("aout", "aou", "august", "aug"), 8),
    **dict.fromkeys(("septembre", "sept", "sep", "september"), 9),
    **dict.fromkeys(("octobre", "oct", "october"), 10),
    **dict.fromkeys(("novembre", "nov", "november"), 11),
    **dict.fromkeys(("decembre", "dec", "december"), 12),
}
_WEEKDAY = r"(?:[a-z]+\.?,?\s+)?"
_MONTH_NAME = r"(?P<month_name>[a-z]+)\.?"
_DAY_MONTH_NAME = re.compile(
    rf"^{_WEEKDAY}(?P<day>\d{{1,2}})(?:er)?\s+{_MONTH_NAME}\s+(?P<year>\d{{4}}){_AFTER_DATE}$", re.IGNORECASE
)
_MONTH_NAME_DAY = re.compile(
    rf"^{_WEEKDAY}{_MONTH_NAME}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}}){_AFTER_DATE}$", re.IGNORECASE
)
_CLOCK_ALONE = re.compile(rf"^(?:(?:à|at)\s+)?{_CLOCK}$", re.IGNORECASE)
_HOURS_ON_A_CLOCK = 12
_MONTHS_IN_A_YEAR = 12
_ISO_DATE_LENGTH = len("2026-10-03")
MAX_QUANTITY = 500


class UnreadableValueError(ValueError):
    """A cell whose text cannot be read as the value its column holds; `reason` says why, for a person, and
    `reason_fr` says it in French."""

    def __init__(self, code: str, reason: str, reason_fr: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.reason_fr = reason_fr


@dataclass(frozen=True)
class Amount:
    value: Decimal
    # The currency the cell itself names (`45 $CA`, `USD 12.00`); None when it only has `$` or no symbol.
    currency: str | None = None


@dataclass(frozen=True)
class Moment:
    at: datetime
    has_time: bool


def parse_amount(text: str) -> Amount:
    """An amount as exports write it: `1 234,50 $`, `1234.50`, `$1,234.50`, `45 $`, `45,00`, `CAD 12.00`.

    The decimal separator is the last of `,` or `.` when both appear; alone, a `,` followed by exactly three digits
    groups thousands (`1,234`), otherwise it is the decimal comma (`45,5`). Negative amounts are refused.
    """
    raw = _SPACED_SYMBOL.sub(lambda found: f"${found.group(1).upper()}", text.strip())
    currency = None
    symbol = _SYMBOL_PATTERN.search(raw)
    if symbol is not None:
        currency = _SYMBOLS[symbol.group()]
        raw = raw[: symbol.start()] + raw[symbol.end() :]
    raw = _TAX_NOTE.sub(" ", raw)
    code = _CODE_PATTERN.search(raw)
    if code is not None:
        currency = _CODE_ALIASES.get(code.group(1).upper(), code.group(1).upper())
        if currency not in CURRENCY_CODES:
            raise UnreadableValueError(
                "amount_unreadable",
                f"names {code.group(1)!r}, which is no currency code (such as CAD, USD or EUR)",
                f"nomme {code.group(1)!r}, qui n'est pas un code de devise (comme CAD, USD ou EUR)",
            )
        raw = raw[: code.start()] + raw[code.end() :]
    core = raw.strip().removeprefix("(").removesuffix(")").strip("-−").strip()
    if _DIGITS_SET_APART.search(core) and not _GROUPED_BY_THOUSANDS.fullmatch(core):
        # `12 50` or `4 5`: two numbers, or a slip; read as one, it would be 1250 or 45.
        raise UnreadableValueError(
            "amount_unreadable",
            "has digits set apart by spaces that group no thousands (such as 12 50): which amount is meant cannot be "
            "told",
            "a des chiffres séparés par des espaces qui ne groupent pas des milliers (comme 12 50) : le montant voulu "
            "ne peut pas être su",
        )
    number = raw.translate(_GROUPING)
    # Readable first, then its sign: a word with a hyphen ("quarante-cinq") is not a negative amount.
    unsigned = number.removeprefix("(").removesuffix(")").strip("-−")
    if not unsigned or not re.fullmatch(r"[0-9.,]+", unsigned) or not re.search(r"[0-9]", unsigned):
        raise UnreadableValueError(
            "amount_unreadable",
            "is not an amount such as 1 234,50 $ or 1234.50",
            "n'est pas un montant comme 1 234,50 $ ou 1234.50",
        )
    if unsigned != number:
        raise UnreadableValueError(
            "amount_negative",
            "is negative; only payments received can be imported",
            "est négatif : seuls les paiements reçus peuvent être importés",
        )
    value = _decimal(_with_point_decimal(number))
    if value != value.quantize(_CENT):
        raise UnreadableValueError("amount_unreadable", "has more than two decimal places", "a plus de deux décimales")
    if value > _MAX_AMOUNT:
        raise UnreadableValueError(
            "amount_unreadable", "is too large to be a payment", "est trop élevé pour être un paiement"
        )
    return Amount(value.quantize(_CENT), currency)


def _with_point_decimal(number: str) -> str:
    comma, point = number.rfind(","), number.rfind(".")
    if comma >= 0 and point >= 0:
        decimal_mark, grouping_mark = (",", ".") if comma > point else (".", ",")
        whole, _, fraction = number.rpartition(decimal_mark)
        if decimal_mark in whole or not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(grouping_mark)}\d{{3}})*", whole):
            raise UnreadableValueError(
                "amount_unreadable",
                "mixes decimal and grouping separators in a way that cannot be read",
                "mêle séparateurs décimaux et de milliers d'une façon illisible",
            )
        return f"{whole.replace(grouping_mark, '')}.{fraction}"
    mark = "," if comma >= 0 else "." if point >= 0 else None
    if mark is None:
        return number
    if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+", number) and (mark == "," or number.count(".") > 1):
        return number.replace(mark, "")
    if number.count(mark) > 1:
        raise UnreadableValueError(
            "amount_unreadable", "has several decimal separators", "a plusieurs séparateurs décimaux"
        )
    return number.replace(",", ".")


def _decimal(number: str) -> Decimal:
    try:
        return Decimal(number)
    except InvalidOperation:
        raise UnreadableValueError("amount_unreadable", "is not a number", "n'est pas un nombre") from None


def parse_moment(text: str, *, zone: tzinfo, date_format: str | None = None, month_first: bool = False) -> Moment:
    """A date, with or without a time: ISO (`2026-10-03`, `2026-10-03 19:30`, `2026-10-03T19:30:00-04:00`), year
    first with a time as people write it (`2026-10-03 19 h 30`), or day first (`03/10/2026`, `03/10/2026 19 h 30`,
    `3/10/2026 7:30 PM`) unless `month_first` (`10/03/2026` is then 3 October), or with the month spelled out
    (`jeudi 5 mars 2026 à 19 h 30`, `March 5, 2026`), or `date_format` when the file sets one.

    A time without an offset is local time in `zone` (the organisation's, America/Toronto for Québec).
    """
    raw = " ".join(text.split())
    if date_format is not None:
        configured = _configured(raw, date_format)
        if configured is not None:
            return _localised(configured, zone)
    try:
        iso = datetime.fromisoformat(raw)
    except ValueError:
        pass
    else:
        return _localised(Moment(iso, has_time=len(raw) > _ISO_DATE_LENGTH), zone)
    match = _DAY_FIRST.match(raw) or _YEAR_FIRST.match(raw) or _spelled_month(plain(raw))
    if match is None:
        expected = f"{date_format} or " if date_format else ""
        expected_fr = f"{date_format} ou " if date_format else ""
        raise UnreadableValueError(
            "date_unreadable",
            f"is not a date such as {expected}2026-10-03 or 03/10/2026 19 h 30",
            f"n'est pas une date comme {expected_fr}2026-10-03 ou 03/10/2026 19 h 30",
        )
    if "month_name" in match.re.groupindex:
        month, day_of_month = _MONTHS[match["month_name"]], int(match["day"])
    elif month_first and match.re is _DAY_FIRST:
        month, day_of_month = int(match["day"]), int(match["month"])
    else:
        month, day_of_month = int(match["month"]), int(match["day"])
    day = _date(int(match["year"]), month, day_of_month)
    at = _time_of(match)
    return _localised(Moment(datetime.combine(day, at or time()), has_time=at is not None), zone)


class DateOrder(StrEnum):
    DAY_FIRST = "day_first"
    MONTH_FIRST = "month_first"


def proven_date_order(text: str) -> DateOrder | None:
    """The order a numeric date proves: day first for `14/05/2026` (14 cannot be a month), month first for
    `05/14/2026`; None for `05/04/2026`, which reads either way, and for any other kind of date."""
    match = _DAY_FIRST.match(" ".join(text.split()))
    if match is None:
        return None
    first, second = int(match["day"]), int(match["month"])
    if first > _MONTHS_IN_A_YEAR >= second:
        return DateOrder.DAY_FIRST
    if second > _MONTHS_IN_A_YEAR >= first:
        return DateOrder.MONTH_FIRST
    return None


def reads_either_way(text: str) -> bool:
    """Whether a numeric date reads as two different days, day or month first: `03/10/2026`, not `14/05/2026` nor
    `05/05/2026`."""
    match = _DAY_FIRST.match(" ".join(text.split()))
    if match is None:
        return False
    first, second = int(match["day"]), int(match["month"])
    return first != second and first <= _MONTHS_IN_A_YEAR and second <= _MONTHS_IN_A_YEAR


def _spelled_month(folded: str) -> re.Match[str] | None:
    match = _DAY_MONTH_NAME.match(folded) or _MONTH_NAME_DAY.match(folded)
    return match if match is not None and match["month_name"] in _MONTHS else None


def _configured(raw: str, date_format: str) -> Moment | None:
    try:
        return Moment(datetime.strptime(raw, date_format), has_time=_formats_a_time(date_format))
    except ValueError:
        pass
    # A date format often leaves the time out while some cells carry one: `03/10/2026 19 h 30`.
    for cut in range(len(raw) - 1, 0, -1):
        if raw[cut] not in " T,":
            continue
        suffix = _CLOCK_ALONE.match(raw[cut:].strip(" T,"))
        if suffix is None:
            continue
        try:
            day = datetime.strptime(raw[:cut].strip(), date_format)
        except ValueError:
            continue
        at = _time_of(suffix)
        if at is not None:
            return Moment(datetime.combine(day.date(), at), has_time=True)
    return None


def _formats_a_time(date_format: str) -> bool:
    return any(directive in date_format for directive in ("%H", "%I", "%M", "%X", "%c", "%T", "%R"))


def _date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise UnreadableValueError(
            "date_unreadable", "is not a real calendar date", "n'existe pas au calendrier"
        ) from None


def parse_time_of_day(text: str) -> time:
    """A time of day as a column of its own writes it: `19 h 30`, `19h30`, `19:30`, `19:30:00`, `7:30 PM`, `7 p.m.`,
    `14 h`, local time. An hour alone (`7`) is refused, as it is after a date: it may be morning or evening."""
    match = _CLOCK_ALONE.match(" ".join(text.split()))
    at = None if match is None else _time_of(match, code="time_unreadable")
    if at is None:
        raise UnreadableValueError(
            "time_unreadable",
            "is not a time such as 19 h 30, 19:30 or 7:30 PM",
            "n'est pas une heure comme 19 h 30, 19:30 ou 7:30 PM",
        )
    return at


def _time_of(match: re.Match[str], *, code: str = "date_unreadable") -> time | None:
    if match["hour"] is None:
        return None
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    if match["half"]:
        if not 1 <= hour <= _HOURS_ON_A_CLOCK:
            raise UnreadableValueError(
                code,
                "has an hour that is not on a 12-hour clock",
                "a une heure qui n'existe pas sur une horloge de 12 heures",
            )
        hour = hour % _HOURS_ON_A_CLOCK + (_HOURS_ON_A_CLOCK if plain(match["half"]).startswith("p") else 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        raise UnreadableValueError(code, "is not a real time of day", "n'est pas une heure valide") from None


# Dates outside these years are no performance, sale or gift: `1899-12-30` is Excel's day zero, `9999-12-31` an
# export's "no end"; and near year 9999 a time in Québec is past what a date holds in UTC.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


def _localised(moment: Moment, zone: tzinfo) -> Moment:
    year = moment.at.year
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise UnreadableValueError(
            "date_out_of_range",
            f"is in {year}: a date of a sale, a performance or a gift is between {EARLIEST_YEAR} and {LATEST_YEAR}",
            f"est en {year} : une vente, une représentation ou un don est daté entre {EARLIEST_YEAR} et {LATEST_YEAR}",
        )
    if moment.at.utcoffset() is not None:
        return moment
    return Moment(moment.at.replace(tzinfo=zone), moment.has_time)


def parse_quantity(text: str) -> int:
    """A number of tickets: a positive whole number (`2`, also `2,0` as spreadsheets sometimes write it)."""
    cleaned = text.strip().translate(_GROUPING).replace(",", ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise UnreadableValueError("quantity_invalid", "is not a whole number", "n'est pas un nombre entier") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 1:
        raise UnreadableValueError(
            "quantity_invalid", "is not a positive whole number", "n'est pas un nombre entier d'au moins 1"
        )
    if number > MAX_QUANTITY:
        raise UnreadableValueError(
            "quantity_invalid",
            f"is more than {MAX_QUANTITY} tickets in one row",
            f"dépasse {MAX_QUANTITY} billets sur une ligne",
        )
    return int(number)
