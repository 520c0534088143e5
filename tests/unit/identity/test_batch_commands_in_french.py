"""`parterre identity resolve` and `estimate` in French: asked for with `--language fr` or by a French locale, every
message a person reads is French, and what programs read is the same in both languages."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.identity.synthetic import generate_audience
from services.identity.domain.batch_input import BatchLineError, read_batch_line
from services.identity.estimation import MIN_RECORDS
from services.identity.handlers import active_person
from shared.cli import main

ELISE = {"first_name": "Élise", "last_name": "Gagnon"}
# A no-break space: French writes 1 000.
NBSP = "\u00a0"
# Few random pairs keep each estimate well under a second.
QUICK = ("--random-pairs", "3000")


@pytest.fixture(autouse=True)
def bundled_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read the bundled policy and model unless the environment names others."""
    for name in ("PARTERRE_IDENTITY_POLICY_FILE", "PARTERRE_IDENTITY_MATCH_MODEL_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["--language fr", "LANG=fr_CA.UTF-8"])
def in_french(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """The options that ask for French: `--language fr`, or none, French coming from the environment."""
    if request.param == "--language fr":
        return ("--language", "fr")
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")
    return ()


@pytest.fixture(scope="module")
def audience_lines() -> list[str]:
    """About 800 records of 300 people, households and typos included."""
    return [json.dumps(record.as_input(), ensure_ascii=False) for record in generate_audience(300, seed=11)]


def write_lines(path: Path, *lines: dict[str, Any] | str | bytes) -> Path:
    encoded = (
        line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode("utf-8")
        for line in lines
    )
    path.write_bytes(b"".join(line + b"\n" for line in encoded))
    return path


def resolve(tmp_path: Path, *lines: dict[str, Any] | str | bytes, options: tuple[str, ...] = ()) -> int:
    source = write_lines(tmp_path / "history.jsonl", *lines)
    return main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv"), *options])


def estimate(tmp_path: Path, lines: list[str], *options: str, output: str = "model.yaml") -> int:
    source = write_lines(tmp_path / "history.jsonl", *lines)
    return main(["identity", "estimate", "--input", str(source), "--output", str(tmp_path / output), *QUICK, *options])


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("ligne ", "line "))]


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


# Each kind of problem a line can have, and how French says it.
LINES_AND_PROBLEMS: list[tuple[dict[str, Any] | str | bytes, list[str]]] = [
    ('{"record_id": "r1", "email": ', ["écartée : JSON non valide : valeur attendue à la colonne 30"]),
    ('{"record_id": "r1" "email": "a@example.com"}', ["écartée : JSON non valide : virgule attendue à la colonne 20"]),
    (
        '[{"record_id": "r2"}]',
        [
            "écartée : une ligne doit être un objet JSON, pas un tableau (le fichier ressemble à un tableau JSON : "
            "écrivez un objet par ligne, sans crochets ni virgules entre eux)"
        ],
    ),
    ('"r3"', ["écartée : une ligne doit être un objet JSON, pas du texte"]),
    (
        '{"record_id": "r4", "x": ' + "[" * 2000 + "]" * 2000 + "}",
        ["écartée : JSON non valide : ses imbrications sont trop profondes"],
    ),
    ('{"record_id": ' + "9" * 5000 + "}", ["écartée : JSON non valide : un nombre a trop de chiffres"]),
    ({"email": "anne@example.com"}, ["écartée : `record_id` est obligatoire"]),
    (
        '{"record_id": "r5", "record_id": "r5b"}',
        ["écartée : `record_id` est donné deux fois, avec des valeurs différentes"],
    ),
    ({"record_id": 6.0, **ELISE}, ["écartée : `record_id` doit être du texte, pas un nombre décimal"]),
    ({"record_id": "r" * 1001, **ELISE}, [f"écartée : `record_id` dépasse 1{NBSP}000 caractères"]),
    ({"record_id": "r8", **ELISE}, []),
    ({"record_id": "r8", **ELISE}, ["écartée : `record_id` « r8 » a déjà servi à la ligne 11"]),
    (
        {"record_id": "r9", "email": ["a@example.com"], "street": "x" * 1001, "city": True, **ELISE},
        [
            "champ email ignoré : il doit être du texte, pas un tableau",
            f"champ street ignoré : il dépasse 1{NBSP}000 caractères",
            "champ city ignoré : il doit être du texte, pas un booléen",
        ],
    ),
    (
        '{"record_id": "r10", "email": "a@example.com", "email": "b@example.com", "last_name": "Roy\\ud800", '
        '"first_name": "Jean"}',
        [
            "champ last_name ignoré : il contient une moitié de paire de substitution (\\ud800), qui n'est pas un "
            "caractère",
            "champ email ignoré : il est donné deux fois, avec des valeurs différentes",
            "écartée : ne désigne personne : il lui faut un external_id, un courriel, un téléphone, ou un prénom et un "
            "nom",
        ],
    ),
    (
        {"record_id": "r11", "external_id": "C-7", **ELISE},
        ["champ external_id ignoré : il lui faut la `source` dont il est l'identifiant"],
    ),
    (
        '{"record_id": "r12", "first_name": "Hélène", "last_name": "Roy"}'.encode("cp1252"),
        ["pas en UTF-8 valide ; lue en Windows-1252"],
    ),
    ({"record_id": "r13", "courriel": "e@example.com", **ELISE}, ["champ inconnu ignoré : courriel"]),
    (
        {"record_id": "r14", "courriel": "e@example.com", "prenom": "Élise", **ELISE},
        ["champs inconnus ignorés : courriel, prenom"],
    ),
    (
        {
            "record_id": "r15",
            "email": "pas-un-courriel",
            "phone": "514-55",
            "street": "App. 3",
            "city": "!!!",
            "country": "Atlantide",
            "birth_date": "17/03/1984",
            **ELISE,
        },
        [
            "champ email ignoré : « pas-un-courriel » n'est pas une adresse courriel",
            "champ phone ignoré : « 514-55 » n'est pas un numéro de téléphone valide",
            "champ street ignoré : « App. 3 » n'a ni numéro ni nom de rue",
            "champ city ignoré : « !!! » ne contient ni lettre ni chiffre",
            "champ country ignoré : « Atlantide » n'est ni un code de pays à deux lettres ni un nom de pays",
            "champ birth_date ignoré : « 17/03/1984 » n'est pas une date comme 1984-03-17 ou 19840317",
        ],
    ),
    (
        {"record_id": "r16", "birth_date": "1984-02-30", **ELISE},
        ["champ birth_date ignoré : « 1984-02-30 » n'existe pas au calendrier"],
    ),
    (
        {"record_id": "r17", "birth_date": "1850-01-01", **ELISE},
        ["champ birth_date ignoré : « 1850-01-01 » est antérieure à 1900"],
    ),
    (
        {"record_id": "r18", "birth_date": "1970-01-01", **ELISE},
        [
            "champ birth_date ignoré : « 1970-01-01 » est ce que les systèmes inscrivent pour une date de naissance "
            "inconnue"
        ],
    ),
    (
        {"record_id": "r19", "birth_date": "2999-01-01", **ELISE},
        ["champ birth_date ignoré : « 2999-01-01 » est dans l'avenir"],
    ),
    (
        {"record_id": "r20", "first_name": "Élise"},
        [
            "écartée : ne désigne personne : il lui faut un external_id, un courriel, un téléphone, ou un prénom et un "
            "nom"
        ],
    ),
    (
        {"record_id": "r21", "phone": "514 555 1234"},
        [
            "écartée : ne désigne personne : phone « 514 555 1234 » est une valeur partagée ou fictive que la "
            "politique d'identifiants bloque, et qui ne relie personne ; il lui faut un external_id, un courriel, un "
            "téléphone, ou un prénom et un nom"
        ],
    ),
    (
        {"record_id": "r22", "email": "info@theatre.example", "phone": "514-555-5555"},
        [
            "écartée : ne désigne personne : email « info@theatre.example » et phone « 514-555-5555 » sont des valeurs "
            "partagées ou fictives que la politique d'identifiants bloque, et qui ne relient personne ; il lui faut un "
            "external_id, un courriel, un téléphone, ou un prénom et un nom"
        ],
    ),
    (
        {"record_id": "r23", "email": "info@theatre.example", **ELISE},
        [
            "email « info@theatre.example » ignoré : une valeur partagée ou fictive que la politique d'identifiants "
            "bloque ne relie personne"
        ],
    ),
    (
        {"record_id": "r24", "email": "info@theatre.example", "phone": "514 555 1234", **ELISE},
        [
            "email « info@theatre.example » et phone « 514 555 1234 » ignorés : des valeurs partagées ou fictives que "
            "la politique d'identifiants bloque ne relient personne"
        ],
    ),
]


def test_each_kind_of_problem_a_line_can_have_is_said_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...]
) -> None:
    lines = [line for line, _ in LINES_AND_PROBLEMS]

    assert resolve(tmp_path, *lines, options=in_french) == 0

    expected = [
        f"ligne {number} : {problem}"
        for number, (_, problems) in enumerate(LINES_AND_PROBLEMS, start=1)
        for problem in problems
    ]
    assert problem_lines(capsys.readouterr().err) == expected


def test_strict_stops_naming_the_line_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...]
) -> None:
    code = resolve(
        tmp_path, {"record_id": "r1", **ELISE}, {"record_id": "r1", **ELISE}, options=("--strict", *in_french)
    )

    assert code == 1
    assert (
        last_line(capsys.readouterr().err)
        == "erreur : ligne 2 : `record_id` « r1 » a déjà servi à la ligne 1 (--strict)"
    )


def progress_lines(stderr: str) -> list[tuple[str, str, str]]:
    """Each progress line drawn in French, as (its percentage, its count of records, what it says after the rate)."""
    drawn = []
    for line in stderr.splitlines():
        shown = re.fullmatch(r"\[[# ]{30}\]\s+([\d,]+)\u00a0%  ([\d\u00a0]+ fiches?)  [\d\u00a0]+ fiches/s  (.*)", line)
        if shown is not None:
            drawn.append((shown[1], shown[2], shown[3]))
    return drawn


def test_progress_is_counted_and_written_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...]
) -> None:
    history = [{"record_id": f"r{n:02}", "email": f"person{n:02}@example.com"} for n in range(40)]

    assert resolve(tmp_path, *history, "{", options=in_french) == 0

    # In a log, the first record resolved draws a line at once, and each stage its last one; what follows the count
    # agrees with it, one record being written as much as one line skipped.
    drawn = progress_lines(capsys.readouterr().err)
    assert drawn[0][1:] == ("1 fiche", "0 ligne écartée")
    assert drawn[1] == ("100,0", "40 fiches", "1 ligne écartée")
    assert drawn[2] == ("2,5", "1 fiche", "écrite dans persons.csv")
    assert drawn[3] == ("100,0", "40 fiches", "écrites dans persons.csv")


def test_the_problems_beyond_those_shown_are_counted_in_french_and_the_report_file_holds_them_all_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...]
) -> None:
    lines = [{"record_id": f"r{n}", "first_name": "Élise"} for n in range(1, 1_104)] + [{"record_id": "ok", **ELISE}]

    assert resolve(tmp_path, *lines, options=in_french) == 0
    assert problem_lines(stderr := capsys.readouterr().err)[0].startswith("ligne 1 : écartée : ne désigne personne")
    assert stderr.splitlines()[-2] == f"… et 1{NBSP}003 autres problèmes ; --report FICHIER les écrit tous"

    report = tmp_path / "report.json"
    assert resolve(tmp_path, *lines[-102:], options=(*in_french, "--report", str(report))) == 0
    assert capsys.readouterr().err.splitlines()[-2] == f"… et 1 autre problème, voir {report}"
    problems = json.loads(report.read_text(encoding="utf-8"))["problems"]
    assert len(problems) == 101
    assert problems[-1] == (
        "ligne 101 : écartée : ne désigne personne : il lui faut un external_id, un courriel, un téléphone, ou un "
        "prénom et un nom"
    )


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        (
            ['[{"record_id": "r1", "email": "a@example.com"}]', '[{"record_id": "r2", "email": "b@example.com"}]'],
            "erreur : aucune des 2 lignes ne contenait de fiche à résoudre ; rien n'a été écrit. L'entrée est en JSON "
            "Lines : un objet JSON par ligne, ni un tableau JSON ni un objet réparti sur plusieurs lignes",
        ),
        (
            [{"record_id": "r1", "first_name": "Élise"}, {"record_id": "r2", "city": "Montréal"}],
            "erreur : aucune des 2 lignes ne contenait de fiche à résoudre ; rien n'a été écrit : la raison pour "
            "laquelle chacune a été écartée est donnée plus haut",
        ),
        ([""], "erreur : l'entrée ne contient aucune fiche, tout au plus des lignes vides ; rien n'a été écrit"),
        (
            [{"record_id": "r1", "first_name": "Élise"}],
            "erreur : la seule ligne ne contenait aucune fiche à résoudre ; rien n'a été écrit : la raison pour "
            "laquelle elle a été écartée est donnée plus haut",
        ),
    ],
    ids=["not-json-lines", "naming-nobody", "empty", "one-line"],
)
def test_a_file_with_nothing_to_resolve_is_refused_in_french(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    in_french: tuple[str, ...],
    lines: list[dict[str, Any] | str],
    said: str,
) -> None:
    assert resolve(tmp_path, *lines, options=in_french) == 1
    assert last_line(capsys.readouterr().err) == said
    assert not (tmp_path / "persons.csv").exists()


def refusals(tmp_path: Path) -> list[tuple[list[str], int, str]]:
    """(the command's arguments, its exit code, what it says) for each option or file refused before any work."""
    source = write_lines(tmp_path / "history.jsonl", {"record_id": "r1", **ELISE})
    array = write_lines(tmp_path / "array.jsonl", "[", '  {"record_id": "r1"},', '  {"record_id": "r2"}', "]")
    (utf16 := tmp_path / "powershell.jsonl").write_bytes('{"record_id": "r1"}\r\n'.encode("utf-16"))
    (utf32 := tmp_path / "utf32.jsonl").write_bytes('\ufeff{"record_id": "r1"}\r\n'.encode("utf-32-be"))
    (folder := tmp_path / "folder").mkdir()
    (loop := tmp_path / "loop.csv").symlink_to(loop)
    missing = tmp_path / "missing.jsonl"
    (twice := tmp_path / "twice.yaml").write_text("bands: {link_at: 0.9, review_at: 0.5}\nbands: {}\n")
    resolving = ["identity", "resolve", "--input", str(source)]
    output = ["--output", str(tmp_path / "persons.csv")]
    return [
        (
            [*resolving, *output, "--org", "Théâtre"],
            2,
            "erreur : --org : l'identifiant d'organisation « Théâtre » doit compter de 2 à 63 lettres minuscules, "
            "chiffres ou tirets",
        ),
        (["identity", "resolve", "--input", str(missing), *output], 2, f"erreur : {missing} n'est pas un fichier"),
        (
            ["identity", "resolve", "--input", str(utf16), *output],
            1,
            f"erreur : {utf16} est en UTF-16 (comme l'écrit le > de Windows PowerShell) ; l'entrée est lue en UTF-8 : "
            "enregistrez-le en UTF-8, par exemple avec Out-File -Encoding utf8 ; rien n'a été lu",
        ),
        (
            ["identity", "resolve", "--input", str(utf32), *output],
            1,
            f"erreur : {utf32} est en UTF-32 ; l'entrée est lue en UTF-8 : enregistrez-le en UTF-8, par exemple avec "
            "Out-File -Encoding utf8 ; rien n'a été lu",
        ),
        (
            ["identity", "resolve", "--input", str(array), *output],
            1,
            f"erreur : {array} contient un tableau JSON écrit sur plusieurs lignes, et non du JSON Lines : écrivez un "
            "objet par ligne, sans crochets ni virgules entre eux (`jq -c '.[]'` le fait) ; rien n'a été lu",
        ),
        ([*resolving, "--output", str(folder)], 2, f"erreur : --output : {folder} est un dossier"),
        (
            [*resolving, "--output", str(loop)],
            2,
            f"erreur : --output : {loop} est un lien qui mène à lui-même",
        ),
        (
            [*resolving, *output, "--report", str(tmp_path / "nowhere" / "report.json")],
            2,
            f"erreur : --report : {tmp_path / 'nowhere'} n'est pas un dossier",
        ),
        (
            [*resolving, "--output", str(source)],
            2,
            f"erreur : --output : {source} est aussi --input ; nommez un autre fichier",
        ),
        ([*resolving, *output, "--memory-mb", "8"], 2, "erreur : --memory-mb : au moins 16"),
        (
            [*resolving, *output, "--model", str(tmp_path / "no-model.yaml")],
            2,
            f"erreur : {tmp_path / 'no-model.yaml'} : fichier ou dossier introuvable",
        ),
        (
            [*resolving, *output, "--model", str(twice)],
            2,
            f"erreur : {twice}, ligne 2 : `bands` est donné deux fois au même endroit",
        ),
        (
            [
                "identity",
                "estimate",
                "--input",
                str(source),
                "--output",
                str(tmp_path / "m.yaml"),
                "--random-pairs",
                "0",
            ],
            2,
            "erreur : --random-pairs doit valoir au moins 1, pas 0",
        ),
        (
            ["identity", "estimate", "--input", str(source), "--output", str(source)],
            2,
            f"erreur : --output : {source} est aussi --input ; nommez un autre fichier",
        ),
    ]


def test_each_option_or_file_refused_before_any_work_is_refused_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...]
) -> None:
    for arguments, code, said in refusals(tmp_path):
        assert (main([*arguments, *in_french]), capsys.readouterr().err) == (code, said + "\n")
    assert not (tmp_path / "persons.csv").exists()


def test_a_folder_the_user_may_not_write_in_is_refused_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, in_french: tuple[str, ...]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr("os.access", lambda path, mode, **options: False)

    code = resolve(tmp_path, {"record_id": "r1", **ELISE}, options=("--output", str(locked / "p.csv"), *in_french))

    assert code == 2
    assert capsys.readouterr().err == f"erreur : --output : {locked} est un dossier où vous ne pouvez pas écrire\n"


def test_a_setting_or_a_policy_file_refused_is_introduced_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, in_french: tuple[str, ...]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("identifiers:\n  email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}\n")
    assert resolve(tmp_path, {"record_id": "r1", **ELISE}, options=("--policy", str(policy), *in_french)) == 2
    assert capsys.readouterr().err == (
        f"erreur : {policy}, ligne 1 : `identifiers` : chaque type d'identifiant a besoin d'une règle ; il manque : "
        "external_id, phone\n"
    )

    monkeypatch.setenv("PARTERRE_IDENTITY_DEFAULT_REGION", "Québec")
    assert resolve(tmp_path, {"record_id": "r1", **ELISE}, options=in_french) == 2
    assert capsys.readouterr().err.startswith("erreur : PARTERRE_IDENTITY_DEFAULT_REGION : ")


def test_a_model_file_s_own_checks_are_said_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...]
) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("bands:\n  link_at: 0.9\n  review_at: 0.95\nmodel: default\n", encoding="utf-8")

    assert resolve(tmp_path, {"record_id": "r1", **ELISE}, options=("--model", str(model), *in_french)) == 2
    assert capsys.readouterr().err == (
        f"erreur : {model}, ligne 1 : les seuils demandent 0 < review_at <= link_at < 1, pas 0.95 et 0.9 ; {model}, "
        "ligne 4 : `model` devrait donner prior et comparisons en entrées `nom: valeur`\n"
    )


def test_an_interruption_and_a_failure_to_read_are_said_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, in_french: tuple[str, ...]
) -> None:
    looked_up = 0

    async def interrupted_at_the_second(*arguments: Any) -> Any:
        nonlocal looked_up
        looked_up += 1
        if looked_up == 2:
            raise KeyboardInterrupt
        return await active_person(*arguments)

    with monkeypatch.context() as patched:
        patched.setattr("services.identity.batch.active_person", interrupted_at_the_second)
        assert resolve(tmp_path, {"record_id": "r1", **ELISE}, {"record_id": "r2", **ELISE}, options=in_french) == 130
    assert last_line(capsys.readouterr().err) == "erreur : interrompu ; rien n'a été écrit"

    def unreadable(line_number: int, line: str, **options: object) -> None:
        raise OSError(f"the disk went away at line {line_number}")

    # The lines are read by a forked child, which runs this replacement.
    monkeypatch.setattr("services.identity.prepared_input.prepare_line", unreadable)
    assert resolve(tmp_path, {"record_id": "r1", **ELISE}, options=in_french) == 1
    stderr = capsys.readouterr().err
    assert "erreur : la préparation des lignes a échoué :\nTraceback" in stderr
    assert last_line(stderr) == "OSError: the disk went away at line 1 ; rien n'a été écrit"


def test_estimate_says_its_problems_progress_and_result_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_french: tuple[str, ...], audience_lines: list[str]
) -> None:
    broken = ['{"record_id": "x1", "email": ', '{"email": "no-id@example.com"}']
    nobody = ['{"record_id": "x2", "first_name": "Élise"}'] * 150

    assert estimate(tmp_path, [*broken, *audience_lines, *nobody], *in_french) == 0

    stderr = capsys.readouterr().err.splitlines()
    assert problem_lines("\n".join(stderr))[:2] == [
        "ligne 1 : écartée : JSON non valide : valeur attendue à la colonne 30",
        "ligne 2 : écartée : `record_id` est obligatoire",
    ]
    assert "comparaison des paires aléatoires et des paires bloquées, puis EM…" in stderr
    assert any(line.endswith(" fiches/s  157 lignes écartées") for line in stderr)
    assert f"… et {157 - 100} autres problèmes ; --report FICHIER les écrit tous" in stderr
    assert stderr[-2] == f"fichier écrit : {tmp_path / 'model.yaml'}"


def test_estimate_refuses_in_french_when_it_cannot_estimate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    in_french: tuple[str, ...],
    audience_lines: list[str],
) -> None:
    assert estimate(tmp_path, audience_lines, "--max-iterations", "1", *in_french) == 1
    assert capsys.readouterr().err.splitlines()[-2].startswith("erreur : l'EM n'a pas convergé en 1 itération sur ")

    strangers = [json.dumps({"record_id": f"r{n}", "email": f"p{n}@example.com"}) for n in range(MIN_RECORDS)]
    assert estimate(tmp_path, strangers, *in_french) == 1
    assert last_line(capsys.readouterr().err) == (
        f"erreur : aucune des {MIN_RECORDS} fiches ne partage avec une autre une clé de blocage (un courriel, un "
        "téléphone, un nom "
        "avec un code postal ou une année de naissance) comptant au plus 50 fiches : il n'y a aucune paire candidate "
        "sur laquelle estimer m ; rien n'a été écrit"
    )

    assert estimate(tmp_path, strangers[:1], *in_french) == 1
    assert last_line(capsys.readouterr().err).startswith(
        f"erreur : 1 fiche(s) lue(s) : l'estimation en demande au moins {MIN_RECORDS} ; "
    )

    def stopped_by_ctrl_c(*arguments: Any, **options: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("services.identity.entrypoints.cli.estimate_from_records", stopped_by_ctrl_c)
    assert estimate(tmp_path, audience_lines, *in_french) == 130
    assert last_line(capsys.readouterr().err) == "erreur : interrompu ; rien n'a été écrit"


def test_the_json_summary_the_csv_and_the_model_file_are_the_same_in_both_languages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], audience_lines: list[str]
) -> None:
    lines = ["{oops", '{"record_id": "x", "phone": 12}', *audience_lines[:300]]
    written: dict[str, tuple[str, str, str]] = {}
    for language in ("en", "fr"):
        assert resolve(tmp_path, *lines, options=("--language", language)) == 0
        resolved = last_line(capsys.readouterr().err)
        assert estimate(tmp_path, lines, "--language", language) == 0
        estimated = last_line(capsys.readouterr().err)
        persons = (tmp_path / "persons.csv").read_text(encoding="utf-8")
        written[language] = (resolved, estimated, persons + (tmp_path / "model.yaml").read_text(encoding="utf-8"))

    assert written["fr"] == written["en"]
    resolved, estimated, _ = written["fr"]
    assert list(json.loads(resolved)) == ["lines", "resolved", "skipped", "warnings", "outcomes"]
    assert json.loads(estimated)["lines"] == len(lines)


@pytest.mark.parametrize(
    ("environment", "options"),
    [
        ({"LANG": "en_CA.UTF-8"}, ()),
        ({"LANG": "fr_CA.UTF-8"}, ("--language", "en")),
        ({"LANG": "fr_CA.UTF-8", "LC_ALL": "C.UTF-8"}, ("--language", "EN")),
        ({"LANG": "fr_CA.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, ("--language", "en")),
    ],
    ids=["english-locale", "asked-over-a-french-locale", "upper-case", "messages-locale"],
)
def test_english_stays_as_it_was_when_asked_for_or_set(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    options: tuple[str, ...],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    code = resolve(tmp_path, {"record_id": "r1", "phone": "514-55", **ELISE}, '["x"]', options=options)

    assert code == 0
    assert problem_lines(capsys.readouterr().err) == [
        "line 1: ignored phone: '514-55' is not a valid phone number",
        "line 2: skipped: a line must be a JSON object, not an array",
    ]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LC_ALL": "fr_CA.UTF-8", "LANG": "en_CA.UTF-8"}, "ligne 1 : "),
        ({"LC_MESSAGES": "fr_FR.UTF-8"}, "ligne 1 : "),
        ({"LC_ALL": "", "LANG": "fr"}, "ligne 1 : "),
        ({"LC_ALL": "C", "LANG": "fr_CA.UTF-8"}, "line 1: "),
    ],
    ids=["lc-all-first", "lc-messages", "empty-is-unset", "c-over-lang"],
)
def test_the_locale_that_sets_the_language_is_the_first_of_lc_all_lc_messages_and_lang(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    expected: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert resolve(tmp_path, {"record_id": "r1", "phone": "514-55", **ELISE}) == 0

    assert problem_lines(capsys.readouterr().err)[0].startswith(expected)


@pytest.mark.parametrize("command", ["resolve", "estimate"])
@pytest.mark.parametrize("asked", ["de", "fr_CA", ""])
def test_a_language_the_commands_do_not_speak_is_refused_in_both_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, asked: str
) -> None:
    source = write_lines(tmp_path / "history.jsonl", {"record_id": "r1", **ELISE})
    output = tmp_path / "persons.csv"

    code = main(["identity", command, "--input", str(source), "--output", str(output), "--language", asked])

    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --language: {asked!r} is not a language these commands speak: fr or en\n"
        f"erreur : --language : « {asked} » n'est pas une langue de ces commandes : fr ou en\n"
    )
    assert not output.exists()


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('{"record_id": "r1"', "JSON non valide : virgule attendue à la colonne 19"),
        ("{", "JSON non valide : nom de propriété entre guillemets doubles attendu à la colonne 2"),
        ('{"record_id" "r1"}', "JSON non valide : deux-points attendu à la colonne 14"),
        ('{"record_id": "r1', "JSON non valide : chaîne non terminée, commencée à la colonne 15"),
        ('{"record_id": "r\t1"}', "JSON non valide : caractère de contrôle non valide à la colonne 17"),
        ('{"record_id": "r\\q"}', "JSON non valide : échappement non valide à la colonne 17"),
        ('{"record_id": "\\u12"}', "JSON non valide : échappement \\uXXXX non valide à la colonne 17"),
        ('{"record_id": "r1"} {}', "JSON non valide : données en trop à la colonne 21"),
        ("null", "une ligne doit être un objet JSON, pas null"),
        ("12", "une ligne doit être un objet JSON, pas un nombre entier"),
        ('{"record_id": true}', "`record_id` doit être du texte, pas un booléen"),
        ('{"record_id": {"id": 1}}', "`record_id` doit être du texte, pas un objet"),
    ],
)
def test_what_json_says_of_a_line_it_cannot_read_is_said_in_french(line: str, said: str) -> None:
    with pytest.raises(BatchLineError) as refused:
        read_batch_line(line, "fr")
    assert str(refused.value) == said
