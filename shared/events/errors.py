"""Field-level validation errors, in the shape the ingest API shows its clients."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# The path of an error about the event as a whole (not JSON, not an object).
WHOLE_EVENT = "$"


class FieldError(BaseModel):
    """One reason an event was rejected, and where."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "field": "data.lines.0.unit_price.amount",
                    "reason": "Decimal input should have no more than 2 decimal places",
                    "reason_fr": "doit avoir au plus 2 décimales",
                    "code": "decimal_max_places",
                }
            ]
        },
    )

    field: str = Field(description="Dotted path of the offending attribute as sent, e.g. `data.person.email`.")
    reason: str = Field(description="What is wrong, for a person to read.")
    reason_fr: str = Field(
        default="", description="The same reason in French; when not given, said from the code where it is known."
    )
    code: str = Field(description="A stable machine-readable code, e.g. `missing` or `timezone_aware`.")

    @model_validator(mode="after")
    def _in_french_too(self) -> Self:
        if not self.reason_fr:
            # Frozen: set once, here, before anyone holds it.
            object.__setattr__(self, "reason_fr", french_reason(self.code))
        return self


class EventValidationError(ValueError):
    """An event, or its data, does not satisfy its contract."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{error.field}: {error.reason}" for error in self.errors))

    @classmethod
    def from_pydantic(cls, exc: ValidationError, *, under: Sequence[str] = ()) -> "EventValidationError":
        return cls(field_errors(exc, under=under))


def field_errors(exc: ValidationError | EventValidationError, *, under: Sequence[str] = ()) -> list[FieldError]:
    """The errors of `exc` with dotted paths, each prefixed by `under` (e.g. `("data",)` for an event's data).

    The offending input is left out on purpose: it may be personal information, and it goes back over the wire.
    """
    if isinstance(exc, EventValidationError):
        return [
            error.model_copy(update={"field": _join([*under, error.field])}) if under else error for error in exc.errors
        ]
    return [
        FieldError(
            field=_join([*under, *(str(part) for part in error["loc"])]),
            reason=error["msg"],
            reason_fr=french_reason(error["type"], error.get("ctx")),
            code=error["type"],
        )
        for error in exc.errors(include_url=False, include_input=False)
    ]


# What pydantic and the contracts' own checks say, in French, by error code; `{…}` is filled from the error's
# context. Organisations read these when an import or a webhook is refused, in either language.
_FRENCH_REASONS: dict[str, str] = {
    "missing": "est obligatoire",
    "string_type": "doit être du texte",
    "string_too_short": "doit contenir au moins {min_length} caractère(s)",
    "string_too_long": "doit contenir au plus {max_length} caractères",
    "string_pattern_mismatch": "n'a pas la forme attendue ({pattern})",
    "too_short": "doit contenir au moins {min_length} élément(s)",
    "too_long": "doit contenir au plus {max_length} éléments",
    "int_type": "doit être un nombre entier",
    "int_parsing": "doit être un nombre entier",
    "int_from_float": "doit être un nombre entier, sans décimales",
    "float_type": "doit être un nombre",
    "float_parsing": "doit être un nombre",
    "decimal_type": "doit être un nombre décimal",
    "decimal_parsing": "doit être un nombre décimal",
    "decimal_max_places": "doit avoir au plus {decimal_places} décimales",
    "decimal_max_digits": "doit avoir au plus {max_digits} chiffres",
    "decimal_whole_digits": "doit avoir au plus {whole_digits} chiffres avant la virgule",
    "finite_number": "doit être un nombre fini",
    "greater_than": "doit être plus grand que {gt}",
    "greater_than_equal": "doit être plus grand ou égal à {ge}",
    "less_than": "doit être plus petit que {lt}",
    "less_than_equal": "doit être plus petit ou égal à {le}",
    "bool_type": "doit être vrai ou faux",
    "bool_parsing": "doit être vrai ou faux",
    "date_type": "doit être une date comme 1984-03-17",
    "date_parsing": "doit être une date comme 1984-03-17",
    "date_from_datetime_parsing": "doit être une date comme 1984-03-17",
    "date_from_datetime_inexact": "doit être une date, sans heure",
    "datetime_type": "doit être une date et une heure comme 2026-10-03T19:30:00-04:00",
    "datetime_parsing": "doit être une date et une heure comme 2026-10-03T19:30:00-04:00",
    "datetime_from_date_parsing": "doit être une date et une heure comme 2026-10-03T19:30:00-04:00",
    "timezone_aware": "doit donner son décalage horaire, comme 2026-10-03T19:30:00-04:00",
    "enum": "doit être l'une de ces valeurs : {expected}",
    "literal_error": "doit être l'une de ces valeurs : {expected}",
    "dict_type": "doit être un objet",
    "model_type": "doit être un objet",
    "model_attributes_type": "doit être un objet",
    "list_type": "doit être une liste",
    "url_parsing": "doit être une adresse web",
    "url_scheme": "doit être une adresse web commençant par {expected_schemes}",
    "uuid_parsing": "doit être un UUID",
    "json_invalid": "n'est pas du JSON valide",
    "extra_forbidden": "n'est pas un champ connu",
    # The contracts' own checks.
    "rfc3339_time": "doit être une heure RFC 3339 avec son décalage, comme 2026-10-03T19:30:00-04:00",
    "iso_date": "doit être une date comme 1984-03-17",
    "email_invalid": "Une adresse courriel a un seul @ et aucune espace",
    "text_missing": "Donnez le texte en français (`fr`), en anglais (`en`) ou les deux",
    "person_unidentifiable": (
        "Une personne a besoin d'un external_id, d'un courriel, d'un téléphone, ou d'un prénom et d'un nom"
    ),
    "date_before_start": "{field} ne peut pas précéder starts_on",
    "extension_value_invalid": "Un attribut d'extension est une chaîne, un booléen ou un entier de 32 bits",
    "evidence_empty": "Une preuve a besoin d'un value_hash ou d'une value",
    "merge_into_self": "La personne retenue ne peut pas être parmi les personnes fusionnées",
    "household_with_oneself": "Une personne rejoint un foyer avec quelqu'un d'autre",
    "history_of_oneself": "Un fait qui est à la personne elle-même ne nomme personne d'autre",
    "unknown_event_type": "n'est pas un type d'événement connu",
    "schema_version_unsupported": "a une version majeure de schéma que ce type d'événement n'a pas",
    # The adapters' own checks of what vendors send.
    "type_error": "n'a pas le type attendu",
    "missing_value": "est vide",
    "currency_invalid": "doit être un code de devise ISO 4217, comme CAD",
    "mixed_currency": "mélange plusieurs devises",
    "unsupported_topic": "n'est pas un sujet de webhook pris en charge",
    "unknown_type": "n'est pas un type pris en charge",
    # Notify's subscriptions.
    "mailchimp_target_missing": "Un abonnement Mailchimp a besoin de `mailchimp` (api_url, api_key, list_id)",
    "webhook_url_missing": "Un abonnement webhook a besoin d'une `url`",
    "events_empty": "Un abonnement veut au moins un événement dans `events`",
}


def french_reason(code: str, context: Mapping[str, Any] | None = None) -> str:
    """What an error of `code` says, in French; a code with no French yet is named, so the reason stays French."""
    return known_french_reason(code, context) or f"valeur refusée (code {code})"


def known_french_reason(code: str, context: Mapping[str, Any] | None = None) -> str | None:
    """What an error of `code` says, in French; None for a code with no French yet."""
    template = _FRENCH_REASONS.get(code)
    if template is None:
        return None
    # Pydantic lists choices in English (`'a', 'b' or 'c'`).
    french = {
        name: value.replace("' or '", "' ou '") if isinstance(value, str) else value
        for name, value in (context or {}).items()
    }
    try:
        return template.format(**french)
    except (KeyError, IndexError):
        return None


def _join(parts: Sequence[str]) -> str:
    return ".".join(part for part in parts if part != WHOLE_EVENT) or WHOLE_EVENT
