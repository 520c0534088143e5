"""The matching model file: m and u per comparison level, and the link and review bands, validated line by line."""

from typing import Any

from services.identity.domain.matching import DEFAULT_MODEL, MatchBands, MatchModel, MatchModelError
from services.identity.domain.resolution import Matching
from shared.bilingual import BilingualValueError
from shared.yaml_models import ConfigFileError, Problem, compose, line_of, refuse_duplicate_keys

_SECTIONS = ("bands", "model")


def load_match_settings(yaml_text: str, *, file_name: str = "match model") -> Matching:
    """The model and bands a YAML file states; a missing `model` means the configured default.

    Raises `ConfigFileError` naming the line of each problem, in English and French.
    """
    data, root = compose(yaml_text, file_name=file_name)
    refuse_duplicate_keys(root, file_name)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigFileError(
            file_name,
            [
                (
                    1,
                    "the file should be a mapping with `bands` and `model`",
                    "le fichier devrait donner `bands` et `model` en entrées `nom: valeur`",
                )
            ],
        )
    sections = ", ".join(_SECTIONS)
    problems: list[Problem] = [
        (
            line_of(root, [key]),
            f"`{key}` is not a section; expected {sections}",
            f"`{key}` n'est pas une section ; attendu : {sections}",
        )
        for key in data
        if key not in _SECTIONS
    ]
    bands = _bands(data.get("bands", {}), root, problems)
    model = DEFAULT_MODEL
    if "model" in data:
        try:
            model = MatchModel.from_dict(data["model"])
        except MatchModelError as exc:
            for (key, reason), (_, reason_fr) in zip(exc.problems, exc.problems_fr, strict=True):
                # `(model)` names the section as a whole, not a key in it.
                whole = key.startswith("(")
                path = ["model"] if whole else ["model", *key.split(".")]
                label = "model" if whole else f"model.{key}"
                problems.append((line_of(root, path), f"`{label}` {reason}", f"`{label}` {reason_fr}"))
    if problems or bands is None:
        raise ConfigFileError(file_name, problems)
    return Matching(model=model, bands=bands)


def _bands(data: Any, root: Any, problems: list[Problem]) -> MatchBands | None:
    if not isinstance(data, dict):
        problems.append(
            (
                line_of(root, ["bands"]),
                "`bands` should map link_at and review_at to probabilities",
                "`bands` devrait donner une probabilité à link_at et à review_at",
            )
        )
        return None
    unknown = [key for key in data if key not in ("link_at", "review_at")]
    for key in unknown:
        problems.append(
            (
                line_of(root, ["bands", key]),
                f"`bands.{key}` is not a setting; expected link_at, review_at",
                f"`bands.{key}` n'est pas un réglage ; attendu : link_at, review_at",
            )
        )
    values = {}
    for key, default in (("link_at", MatchBands.link_at), ("review_at", MatchBands.review_at)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(
                (
                    line_of(root, ["bands", key]),
                    f"`bands.{key}` should be a number, not {value!r}",
                    f"`bands.{key}` devrait être un nombre, pas {value!r}",
                )
            )
            return None
        values[key] = float(value)
    try:
        return MatchBands(**values)
    except BilingualValueError as exc:
        problems.append((line_of(root, ["bands"]), exc.en, exc.fr))
        return None
