"""Names as every service compares them: folded to plain words, split into parts, keyed by how they sound in French."""

import re
import unicodedata

import jellyfish

from shared.memo import remembered
from shared.text import without_format_characters

# Letters that Unicode does not decompose into a base letter and an accent, spelled as French and English readers do.
# Apostrophe-like modifier letters count as letters for Unicode; in names they separate words like `'` does.
_UNDECOMPOSED_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ł": "l",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "ŋ": "n",
        "ĸ": "k",
        "ƒ": "f",
        "ʹ": " ",
        "ʻ": " ",
        "ʼ": " ",
        "ʽ": " ",
        "ˈ": " ",
    }
)
# The combining accents French, English and most Latin-script names carry, deleted in one pass before the slow path.
_LATIN_ACCENTS = dict.fromkeys(range(0x0300, 0x0370))
_ASCII_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Anything that is not a letter or digit in any script (`\w` less the underscore) separates words.
_SEPARATORS = re.compile(r"[\W_]+")
_SAINTS = {"saint": "st", "sainte": "ste"}


def fold_name(raw: str) -> str | None:
    """A name as matching compares it: lower case, accents and ligatures spelled out (`Œ` → `oe`, `ß` → `ss`),
    hyphens, apostrophes, dots and any other punctuation as single spaces, Saint/Sainte as `st`/`ste`; invisible
    format characters, which web forms and word processors leave in (soft hyphens, zero-width spaces), as nothing.

    `Marie-Ève` → `marie eve`, `O'Neil` → `o neil`, `St. Pierre` → `st pierre`, `Tremb\u00adlay` → `tremblay`.
    Latin script becomes ASCII; letters of other scripts are kept, lower-cased. Particles (`de`, `d'`, `van`) stay:
    see `name_parts`. None when nothing is left but punctuation. Never raises.
    """
    words = folded_words(raw)
    return " ".join(words) if words else None


@remembered
def folded_words(raw: str) -> tuple[str, ...]:
    """The words of `fold_name(raw)`, for callers that go on word by word (streets, name parts)."""
    if raw.isascii():
        words = _ASCII_SEPARATORS.sub(" ", raw.lower()).split()
    else:
        # A misreading is undone first: it may hold soft hyphens of its own (see `_repaired_mojibake`).
        plain = without_format_characters(_repaired_mojibake(raw))
        words = _SEPARATORS.sub(" ", _without_accents(plain)).split()
    return tuple(_SAINTS.get(word, word) for word in words)


# UTF-8 read as Windows-1252 turns each accented letter of a name into two characters, the first `Ã` (é → `Ã©`) or
# `Å` (œ → `Å“`), the bytes UTF-8 starts those letters with. Four second characters have a case too (`ÃŠ` is Ê,
# `Ãš` is Ú): once lower-cased, read in upper case, so that Ê, Î, Ü and ß, the letters names use, win over Ú, Þ, Ì.
_MOJIBAKE_LEADS = "ãå"
_MOJIBAKE_BYTES = str.maketrans("ãåšžÿ", "ÃÅŠŽŸ")


def _repaired_mojibake(text: str) -> str:
    """`text` lower-cased with UTF-8 read as Windows-1252 undone (`HÃ©LÃ¨NE` → `hélène`), as spreadsheet exports
    often need; `text` itself when it is no such misreading, since that does not survive the round trip. Lower
    case first, so that a name in capitals and the same name in small letters are repaired alike.

    Its format characters are read as part of the misreading first, since Windows-1252 shows the second byte of `í`
    as a soft hyphen (`MartÃ\u00adnez`), then left out, as one pasted into it (`HÃ©lÃ¨\u00adne`) breaks the bytes.
    """
    folded = text.casefold()
    if not any(lead in folded for lead in _MOJIBAKE_LEADS):
        return text
    for misread in dict.fromkeys((folded, without_format_characters(folded))):
        repaired = _read_as_utf8(misread)
        if repaired is not None:
            return repaired
    return text


def _read_as_utf8(misread: str) -> str | None:
    try:
        repaired = misread.translate(_MOJIBAKE_BYTES).encode("cp1252").decode("utf-8")
    except UnicodeError:
        return None
    # A control or unassigned character means the text was no misreading; a format character may be the name's own.
    if any(unicodedata.category(char).startswith("C") for char in without_format_characters(repaired)):
        return None
    return repaired


def _without_accents(text: str) -> str:
    # Decomposing before and after case folding: some letters only lower-case once decomposed, and the reverse.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = decomposed.translate(_LATIN_ACCENTS).translate(_UNDECOMPOSED_LETTERS)
    if bare.isascii():
        return bare
    return "".join(char for char in bare if not unicodedata.category(char).startswith("M"))


# How French spelling writes one sound many ways, in the order the rules apply to a folded name; `spoken_form` uses
# them so that spelling variants compare as typos and share blocking keys. Each rule names the variants it joins.
_SPOKEN_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"[^a-z]+", ""),  # St Pierre, Stpierre
        (r"(.)\1+", r"\1"),  # Paquette, Paquete
        (r"e?aul?[tdx]?s?$", "o"),  # Thibault, Thibeault, Thibaut; Perreault, Perrault
        (r"e?au", "o"),  # Beaulieu, Bolieu
        (r"ph", "f"),  # Stéphanie, Stefanie
        (r"th", "t"),  # Gauthier, Gautier; Nathalie, Natalie
        (r"qu|q|c(?![eiyh])", "k"),  # Véronique, Veronik; Éric, Erik; Catherine, Katherine
        (r"y", "i"),  # Sylvie, Silvie
        (r"(?<=[aeiou])s(?=[bcdfgjklmnpqrtvz])", ""),  # Lévesque, Lévêque; Desjardins, Déjardins
        (r"ulx$", "u"),  # Proulx, Proux
        (r"(.)\1+", r"\1"),  # doubles the rules above made: Pacquette
        (r"(?<=..)[sx]$", ""),  # Cheniers, Chenier; Desjardins, Desjardin
        (r"(?<=..)e$", ""),  # Chantale, Chantal
        (r"(?<=..)(?:(?<=e)[rz]|[tdz])$", ""),  # Ouellet, Ouellette; Boucher, Bouchez
    )
)


@remembered
def spoken_form(name: str) -> str:
    """A folded name with its French spelling variants reduced to one spelling: `thibeault` → `tibo`.

    Empty for a name with no Latin letters, whose spelling says nothing here.
    """
    for pattern, replacement in _SPOKEN_RULES:
        name = pattern.sub(replacement, name)
    return name


@remembered
def sound_key(name: str) -> str:
    """A phonetic key for a folded name, equal for its usual French spelling variants (Thibault, Thibeault).

    Metaphone alone suits English: it splits Thibault from Thibaut and Gauthier from Gautier, and NYSIIS and
    Soundex do no better on Québec surnames. French spelling variants are first reduced to one spelling
    (`_SPOKEN_RULES`: silent endings, `eau`, `th`, `qu`...), then Metaphone drops vowels and doubles.
    """
    return jellyfish.metaphone(spoken_form(name))


# Parts of a last name that belong to the next part: "st pierre" is one name, not "st" and "pierre".
JOINING_PARTICLES = frozenset(
    {"st", "ste", "de", "du", "des", "la", "le", "les", "d", "l", "mc", "mac", "van", "von", "der", "den", "di", "da"}
    | {"del", "della", "dos", "das", "el", "o"}
)


@remembered
def name_parts(name: str) -> tuple[str, ...]:
    """The parts of a folded name, each particle joined to the word after it: `st pierre` → (`stpierre`,),
    `gagnon tremblay` → (`gagnon`, `tremblay`), `de la fontaine` → (`delafontaine`,); a trailing particle stays alone.
    """
    parts: list[str] = []
    pending = ""
    for token in name.split():
        if token in JOINING_PARTICLES:
            pending += token
        else:
            parts.append(pending + token)
            pending = ""
    if pending:
        parts.append(pending)
    return tuple(parts)
