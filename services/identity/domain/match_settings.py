"""The matching model file: m and u per comparison level, and the link and review bands, validated line by line."""

from typing import Any

from services.identity.domain.matching import DEFAULT_MODEL, MatchBands, MatchModel, MatchModelError
from services.identity.domain.resolution import Matching
from shared.yaml_models import ConfigFileError, compose, line_of, refuse_duplicate_keys

_SECTIONS = ("bands", "model")


def load_match_settings(yaml_text: str, *, file_name: str = "match model") -> Matching:
    """The model and bands a YAML file states; a missing `model` means the configured default.

    Raises `ConfigFileError` naming the line of each problem.
    """
    data, root = compose(yaml_text, file_name=file_name)
    refuse_duplicate_keys(root, file_name)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigFileError(file_name, [(1, "the file should be a mapping with `bands` and `model`")])
    problems = [
        (line_of(root, [key]), f"`{key}` is not a section; expected {', '.join(_SECTIONS)}")
        for key in data
        if key not in _SECTIONS
    ]
    bands = _bands(data.get("bands", {}), root, problems)
    model = DEFAULT_MODEL
    if "model" in data:
        try:
            model = MatchModel.from_dict(data["model"])
        except MatchModelError as exc:
            for key, reason in exc.problems:
                # `(model)` names the section as a whole, not a key in it.
                whole = key.startswith("(")
                path = ["model"] if whole else ["model", *key.split(".")]
                label = "model" if whole else f"model.{key}"
                problems.append((line_of(root, path), f"`{label}` {reason}"))
    if problems or bands is None:
        raise ConfigFileError(file_name, problems)
    return Matching(model=model, bands=bands)


def _bands(data: Any, root: Any, problems: list[tuple[int, str]]) -> MatchBands | None:
    if not isinstance(data, dict):
        problems.append((line_of(root, ["bands"]), "`bands` should map link_at and review_at to probabilities"))
        return None
    unknown = [key for key in data if key not in ("link_at", "review_at")]
    for key in unknown:
        problems.append((line_of(root, ["bands", key]), f"`bands.{key}` is not a setting; expected link_at, review_at"))
    values = {}
    for key, default in (("link_at", MatchBands.link_at), ("review_at", MatchBands.review_at)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append((line_of(root, ["bands", key]), f"`bands.{key}` should be a number, not {value!r}"))
            return None
        values[key] = float(value)
    try:
        return MatchBands(**values)
    except ValueError as exc:
        problems.append((line_of(root, ["bands"]), str(exc)))
        return None
