"""Declarative files (identifier policies, rules, segments) validated by a pydantic model, each error on its line."""

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shared.bilingual import french_of_error
from shared.events import Language

Model = TypeVar("Model", bound=BaseModel)

# A problem's line and what is wrong there: in English, then in French where it is said in French too.
Problem = tuple[int, str] | tuple[int, str, str]


class ConfigFileError(ValueError):
    """A declarative file cannot be used; each problem names its line, so a non-programmer can fix it. `problems`
    say it in English, `problems_fr` in French (in English still where a problem has no French yet)."""

    def __init__(self, file_name: str, problems: Sequence[Problem]) -> None:
        self.file_name = file_name
        self.problems = tuple((problem[0], problem[1]) for problem in problems)
        self.problems_fr = tuple((problem[0], problem[-1]) for problem in problems)
        super().__init__(self.said_in("en"))

    def said_in(self, language: Language) -> str:
        """Every problem in `language`, after its file and line: `triggers.yaml, line 5: …`."""
        if language == "fr":
            return " ; ".join(f"{self.file_name}, ligne {line} : {message}" for line, message in self.problems_fr)
        return "; ".join(f"{self.file_name}, line {line}: {message}" for line, message in self.problems)


def read_config_file(path: Path) -> str:
    """The text of the file at `path`; raises `ConfigFileError` naming its line if it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Some editors save in Windows-1252 or UTF-16: the first accent is where reading stops.
        problem = (
            data.count(b"\n", 0, exc.start) + 1,
            "the file is not UTF-8 text (perhaps Windows-1252 or UTF-16): save it as UTF-8",
            "le fichier n'est pas du texte UTF-8 (peut-être du Windows-1252 ou de l'UTF-16) : enregistrez-le en UTF-8",
        )
        raise ConfigFileError(str(path), [problem]) from None


def load_yaml_model(text: str, model: type[Model], *, file_name: str) -> Model:
    """`text` parsed as YAML and validated by `model`; raises `ConfigFileError` naming the line of each problem."""
    data, root = compose(text, file_name=file_name)
    refuse_duplicate_keys(root, file_name)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems: list[Problem] = []
        for error in exc.errors(include_url=False):
            location = ".".join(str(part) for part in error["loc"])
            where, where_fr = (f"`{location}`: ", f"`{location}` : ") if location else ("", "")
            en, fr = _message(error)
            problems.append((_line_of(root, error["loc"]), f"{where}{en}", f"{where_fr}{fr}"))
        raise ConfigFileError(file_name, problems) from None


# What pydantic says in Python's words ("a valid tuple", "an instance of ConditionSpec"), said in the file's.
_SHAPES = {
    "model_type": ("`name: value` entries here", "des entrées `nom: valeur`"),
    "dict_type": ("`name: value` entries here", "des entrées `nom: valeur`"),
    "tuple_type": ("a list here, such as [a, b]", "une liste, comme [a, b]"),
    "list_type": ("a list here, such as [a, b]", "une liste, comme [a, b]"),
    "string_type": ("text here", "du texte"),
}


def _message(error: ErrorDetails) -> tuple[str, str]:
    """What is wrong, in English and in French (pydantic's English for a check that has no French yet)."""
    shape = _SHAPES.get(error["type"])
    if shape is not None:
        value = error["input"]
        return (
            f"needs {shape[0]}, not {_described(value, 'en')}",
            f"il faut ici {shape[1]}, pas {_described(value, 'fr')}",
        )
    if error["type"] == "invalid_key":
        key = error["input"]
        hint = hint_fr = ""
        if isinstance(key, int | float) and not isinstance(key, bool):
            # `{…, value: 2500,50}`: between braces, the comma of a French decimal starts an entry `50`.
            hint = " (between braces, a comma starts a new entry: write decimals with a point, such as 2500.50)"
            hint_fr = (
                " (entre accolades, une virgule commence une autre entrée : écrivez les décimales avec un point, "
                "comme 2500.50)"
            )
        return (
            f"a key here is a name, not {_described(key, 'en')}{hint}",
            f"une clé est ici un nom, pas {_described(key, 'fr')}{hint_fr}",
        )
    return error["msg"], french_of_error(error) or error["msg"]


def _described(value: Any, language: Language) -> str:
    """`value` as YAML read it, in words."""
    french = language == "fr"
    if value is None:
        return "rien" if french else "nothing"
    if isinstance(value, bool):
        return "vrai ou faux" if french else "true or false"
    if isinstance(value, int | float):
        return f"le nombre {value}" if french else f"the number {value}"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"le texte « {text} »" if french else f"the text '{text}'"
    if isinstance(value, date):
        return f"la date {value.isoformat()}" if french else f"the date {value.isoformat()}"
    if isinstance(value, list | tuple):
        return "une liste" if french else "a list"
    if isinstance(value, dict):
        return "des entrées `nom: valeur`" if french else "`name: value` entries"
    return type(value).__name__


def compose(text: str, *, file_name: str) -> tuple[Any, yaml.Node | None]:
    """The YAML's data and its node tree (for `line_of`); raises `ConfigFileError` on a syntax error."""
    try:
        _refuse_recursive_aliases(text, file_name)
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        # PyYAML's own words stay in English in the French; what to do about them is said in both.
        en = fr = problem
        hint = _syntax_hint(problem, text, mark, context_mark)
        if hint is not None:
            en, fr = f"{problem}; {hint[0]}", f"{problem} ; {hint[1]}"
        # An unclosed bracket or quote is noticed lines later: the line where it opened is the one to fix.
        if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
            en = f"{en} ({context} that starts on line {context_mark.line + 1})"
            fr = f"{fr} ({context}, depuis la ligne {context_mark.line + 1})"
        line = mark.line + 1 if mark else 1
        raise ConfigFileError(file_name, [(line, f"not valid YAML: {en}", f"YAML non valide : {fr}")]) from None


# PyYAML's words for the slips made most in a file edited by hand, and what to do about each, in English and French.
_SYNTAX_HINTS = (
    ("found character '\\t'", ("use spaces, not tabs", "mettez des espaces, pas des tabulations")),
    (
        "mapping values are not allowed here",
        (
            "text holding `: ` goes in quotes, such as 'Relance : donateurs', and a key starts a line of its own",
            "un texte qui contient `: ` se met entre guillemets, comme 'Relance : donateurs', et une clé commence "
            "une ligne à elle",
        ),
    ),
    (
        "but got ':'",
        (
            "between braces or brackets, text holding `: ` goes in quotes, such as {fr: 'Relance : donateurs'}",
            "entre accolades ou crochets, un texte qui contient `: ` se met entre guillemets, comme "
            "{fr: 'Relance : donateurs'}",
        ),
    ),
    (
        "expected <block end>",
        (
            "check the indentation: the keys of one block, and the dashes of one list, line up",
            "vérifiez l'indentation : les clés d'un même bloc, et les tirets d'une même liste, sont alignés",
        ),
    ),
)
_TEXT_AFTER_ITS_CLOSE = (
    "a value ends at its closing quote or bracket: put the text after it inside, and write an apostrophe inside '…' "
    "twice, such as 'Dons d''automne'",
    "une valeur finit à son guillemet ou à son crochet fermant : mettez le texte qui la suit dedans, et écrivez deux "
    "fois une apostrophe entre '…', comme 'Dons d''automne'",
)
_LEFT_OPEN = (
    "a `{` or `[` opened on an earlier line is not closed",
    "un `{` ou un `[` ouvert sur une ligne précédente n'est pas fermé",
)


def _syntax_hint(
    problem: str, text: str, mark: yaml.Mark | None, context_mark: yaml.Mark | None
) -> tuple[str, str] | None:
    """What to do about the slip PyYAML names `problem`, judged from the line it stopped on, in English and French."""
    lines = text.splitlines()
    before = lines[mark.line][: mark.column].rstrip() if mark is not None and mark.line < len(lines) else ""
    if "<scalar>" in problem and before.endswith(("'", '"', "]", "}")):
        # `fr: 'Dons d'automne'`: the quote closes at the apostrophe, and `automne'` follows the value.
        return _TEXT_AFTER_ITS_CLOSE
    if (
        "but got ':'" in problem
        and context_mark is not None
        and mark is not None
        and context_mark.line != mark.line
        and re.fullmatch(r"\s*[^\s:{}\[\],]+", before)
    ):
        # A key starting its line, read inside braces opened lines before: they were never closed.
        return _LEFT_OPEN
    return next((hint for words, hint in _SYNTAX_HINTS if words in problem), None)


def _refuse_recursive_aliases(text: str, file_name: str) -> None:
    # An alias inside the block its anchor names makes a structure that contains itself: nothing here can, and
    # walking it would never end.
    latest: dict[str, int] = {}
    enclosing: list[int] = []
    for number, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None and not isinstance(event, yaml.AliasEvent):
            latest[event.anchor] = number
        if isinstance(event, yaml.CollectionStartEvent):
            enclosing.append(number)
        elif isinstance(event, yaml.CollectionEndEvent):
            enclosing.pop()
        elif isinstance(event, yaml.AliasEvent) and latest.get(event.anchor or "") in enclosing:
            name = event.anchor
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            problem = (
                line,
                f"`*{name}` refers to the block `&{name}` it lies in: that block would contain itself",
                f"`*{name}` renvoie au bloc `&{name}` où il se trouve : ce bloc se contiendrait lui-même",
            )
            raise ConfigFileError(file_name, [problem])


def refuse_duplicate_keys(root: yaml.Node | None, file_name: str) -> None:
    """Raises `ConfigFileError` naming the line of each key a mapping gives twice."""
    # A YAML mapping keeps the last of two equal keys without a word: a second segment of one name, or a second
    # `priority` of one identifier, would silently replace the first.
    problems: list[Problem] = []
    pending: list[yaml.Node] = [root] if root is not None else []
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    meant = _key_as_read(key)
                    if meant in seen:
                        problems.append(
                            (
                                key.start_mark.line + 1,
                                f"`{key.value}` is given twice in one place",
                                f"`{key.value}` est donné deux fois au même endroit",
                            )
                        )
                    seen.add(meant)
                pending.append(value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    if problems:
        raise ConfigFileError(file_name, sorted(problems))


def _key_as_read(key: yaml.ScalarNode) -> str:
    """A key as YAML reads it: `on`, `On`, `yes` and `true` are one key (true) to YAML 1.1, as `off`, `no` and
    `false` are another, so a rule's `on:` and `On:` are a key given twice."""
    if key.tag == "tag:yaml.org,2002:bool":
        return "true" if str(key.value).lower() in ("yes", "true", "on") else "false"
    return str(key.value)


def line_of(root: yaml.Node | None, location: Sequence[Any]) -> int:
    """The line of the deepest node a path of keys and indexes reaches."""
    return _line_of(root, location)


def _line_of(root: yaml.Node | None, location: Sequence[Any]) -> int:
    """The line of the deepest node `location` reaches; pydantic's locations follow the YAML structure.

    A mapping's entry is on its key's line: a nested block starts on the line after its key, but the
    key is what the reader looks for (and what an unknown or misspelt setting is).
    """
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        child = _child(node, part)
        if child is None:
            break
        line, node = child
    return line


def _child(node: yaml.Node | None, part: Any) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _read_key(key_node)
            # pydantic names a key that is no text or number (a date, null) by its repr.
            if key_node.value == str(part) or key == part or (not isinstance(key, str | int) and repr(key) == part):
                return key_node.start_mark.line + 1, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item.start_mark.line + 1, item
    return None


def _read_key(node: yaml.Node) -> Any:
    """The key a scalar node is read as (`on` is true, `2026` a number): pydantic's locations hold those."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except yaml.YAMLError:
        return None
