"""What a command says to the person at the terminal, in French or English: the language the environment asks for,
and values and numbers written as each language writes them."""

import errno
import os
import re
from collections.abc import Mapping
from typing import Any, get_args

from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from shared.events import Language
from shared.events.errors import known_french_reason

LANGUAGES: tuple[Language, ...] = ("fr", "en")
# Between thousands, as French writes them. The no-break space, not the narrow one the console's pages use: a
# terminal set to Latin-1 (fr_CA.ISO-8859-1) has the first and not the second.
_FRENCH_THOUSANDS = "\u00a0"


def language_of_environment(environment: Mapping[str, str] | None = None) -> Language:
    """French when the locale set for messages is a French one: the first of `LC_ALL`,
    `LC_MESSAGES` and `LANG` that is set and not empty (`fr_CA.UTF-8`, `fr`); English otherwise, `C` included.

    As GNU programs do, `LANGUAGE` (languages by preference, `fr_CA:en`) goes first unless that locale is `C` or
    `POSIX`: its first French or English entry says which, an entry `C` or `POSIX` before it English (gettext stops
    there, untranslated); if it names none of them, the locale does."""
    environment = os.environ if environment is None else environment
    locale = next((value for name in ("LC_ALL", "LC_MESSAGES", "LANG") if (value := environment.get(name))), "")
    if locale.split(".")[0] not in ("", "C", "POSIX"):
        for preferred in environment.get("LANGUAGE", "").split(":"):
            if preferred in ("C", "POSIX"):
                return "en"
            # `fr`, `fr_CA`, `fr_CA.UTF-8`, `fr@euro`; not `frr` (North Frisian).
            code = re.split(r"[_.@-]", preferred, maxsplit=1)[0].lower()
            if code == "fr":
                return "fr"
            if code == "en":
                return "en"
    return "fr" if locale.lower().startswith("fr") else "en"


def in_language(language: Language, *, en: str, fr: str) -> str:
    """The text for `language`; both are written side by side where the message is made, so neither drifts."""
    return fr if language == "fr" else en


def quoted(value: str, language: Language) -> str:
    """`value` between quotes, each character that does not print escaped as Python writes it: `'x'` in English
    (Python's own quoting, as these messages always showed values) and `« x »` in French."""
    if language == "en":
        return repr(value)
    shown = "".join(character if character.isprintable() else repr(character)[1:-1] for character in value)
    return f"« {shown} »"


def format_count(value: int, language: Language) -> str:
    """`value` with its thousands apart: `12,345` in English, `12 345` in French."""
    written = f"{value:,}"
    return written.replace(",", _FRENCH_THOUSANDS) if language == "fr" else written


def is_singular(count: int, language: Language) -> bool:
    """Whether `count` things take the singular: in French for none or one (`0 ligne écartée`), in English for one."""
    return 0 <= count < 2 if language == "fr" else count == 1


def french_count(count: int, one: str, more: str) -> str:
    """`count` and the words that follow it in French, `one` for the singular (none or one) and `more` for the rest:
    `1 profil visité`, `12 345 profils visités`."""
    return f"{format_count(count, 'fr')} {one if is_singular(count, 'fr') else more}"


def chosen_language(asked: str | None, environment: Mapping[str, str] | None = None) -> Language:
    """The language asked for (`--language fr`, `EN`), else the environment's; raises `ValueError` for another."""
    if asked is None:
        return language_of_environment(environment)
    for language in LANGUAGES:
        if asked.strip().lower() == language:
            return language
    raise ValueError(asked)


# What the system says of the errors a command meets most with the files it is given, as French says it.
_OS_ERRORS_FR = {
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EACCES: "permission refusée",
    errno.EPERM: "opération non permise",
    errno.EISDIR: "c'est un dossier",
    errno.ENOTDIR: "ce n'est pas un dossier",
    errno.ENOSPC: "plus d'espace sur le disque",
    errno.EROFS: "système de fichiers en lecture seule",
}


def os_error(exc: OSError, language: Language) -> str:
    """What went wrong with a file, in `language`: `nope.yaml : fichier ou dossier introuvable`. English keeps the
    system's own words, as does French for an error it has no words for."""
    reason = _OS_ERRORS_FR.get(exc.errno or 0) if language == "fr" else None
    if reason is None:
        return str(exc)
    return f"{exc.filename} : {reason}" if exc.filename is not None else reason


# What the `json` module says of a text it cannot read, in French; a message it adds one day stays in English.
_JSON_MESSAGES_FR = {
    "Expecting value": "valeur attendue",
    "Expecting property name enclosed in double quotes": "nom de propriété entre guillemets doubles attendu",
    "Expecting ':' delimiter": "deux-points attendu",
    "Expecting ',' delimiter": "virgule attendue",
    "Unterminated string starting at": "chaîne non terminée, commencée",
    "Invalid control character at": "caractère de contrôle non valide",
    "Invalid \\escape": "échappement non valide",
    "Invalid \\uXXXX escape": "échappement \\uXXXX non valide",
    "Extra data": "données en trop",
    "Illegal trailing comma before end of object": "virgule de trop avant la fin de l'objet",
    "Illegal trailing comma before end of array": "virgule de trop avant la fin du tableau",
}


def json_message_fr(message: str) -> str:
    """The `msg` of a `json.JSONDecodeError`, in French."""
    return _JSON_MESSAGES_FR.get(message, message)


class BilingualValueError(ValueError):
    """A check's refusal of a value, said in English and French side by side where it is raised. Pydantic shows the
    English, as it shows any `ValueError`; `french_of_error` finds the French in the error it makes of it."""

    def __init__(self, *, en: str, fr: str) -> None:
        super().__init__(en)
        self.en = en
        self.fr = fr

    def __reduce__(self) -> tuple[Any, ...]:
        # Copied or sent to another process (pickled), it is rebuilt with both texts, not from its English alone.
        return (_bilingual_value_error, (self.en, self.fr))


def _bilingual_value_error(en: str, fr: str) -> BilingualValueError:
    return BilingualValueError(en=en, fr=fr)


def bilingual_problem(code: str, *, en: str, fr: str) -> PydanticCustomError:
    """A check's refusal that pydantic reports under `code` with `en` as its message, word for word (no `Value error, `
    before it), and `fr` beside it for `french_of_error`."""
    # The texts go in the context: a message template would read their braces as placeholders.
    return PydanticCustomError(code, "{reason}", {"reason": en, "reason_fr": fr})


# Pydantic's own error types. A check of the project's may raise one of its own with a code that the events' French
# reasons also know (`unknown_event_type`), but with words of its own that the code's French would lose.
_PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))


def french_of_error(error: ErrorDetails) -> str | None:
    """What a pydantic validation error says, in French: the French of a `BilingualValueError` or a `bilingual_problem`,
    or one of pydantic's own errors as the API's 422 answers say it; None for an error with no French yet."""
    context = error.get("ctx") or {}
    refusal = context.get("error")
    if isinstance(refusal, BilingualValueError):
        return refusal.fr
    french = context.get("reason_fr")
    if isinstance(french, str):
        return french
    if error["type"] in _PYDANTIC_ERROR_TYPES:
        return known_french_reason(error["type"], context)
    return None
