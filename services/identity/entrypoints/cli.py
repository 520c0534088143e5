"""`parterre identity resolve`: resolve an organisation's history from a JSON Lines file, offline."""

import argparse
import asyncio
import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.batch import BatchAbortedError, BatchReport, resolve_lines, write_final_assignments
from services.identity.context import SystemClock, load_rules
from services.identity.handlers import IdentityDeps
from services.identity.settings import IdentitySettings
from shared.access import validate_organisation_id
from shared.progress import ProgressLine
from shared.yaml_models import ConfigFileError

DEFAULT_ORGANISATION = "default"


def register(commands: Any) -> None:
    identity = commands.add_parser("identity", help="resolve records to persons").add_subparsers(
        dest="action", required=True
    )
    resolve = identity.add_parser(
        "resolve",
        help="resolve a JSON Lines file of person records; writes record_id,person_id as CSV",
        description="Each input line is a JSON object with `record_id` and any of source, external_id, first_name, "
        "last_name, email, phone, street, address_2, city, region, postal_code, country, birth_date. "
        "The same matching as the identity service, on this machine's memory: nothing is written to the store.",
    )
    resolve.add_argument("--input", type=Path, required=True, help="the JSON Lines file")
    resolve.add_argument("--output", type=Path, required=True, help="the CSV file to write")
    resolve.add_argument("--org", default=DEFAULT_ORGANISATION, help="the organisation (default: %(default)s)")
    resolve.add_argument("--strict", action="store_true", help="stop at the first unusable line instead of skipping")
    resolve.add_argument("--policy", type=Path, help="an identifier policy file instead of the configured one")
    resolve.add_argument("--model", type=Path, help="a matching model file instead of the configured one")
    resolve.add_argument("--report", type=Path, help="also write the run's report as JSON")
    resolve.set_defaults(run=_run_resolve)


def _run_resolve(arguments: argparse.Namespace) -> int:
    try:
        validate_organisation_id(arguments.org)
    except ValueError as exc:
        print(f"error: --org: {exc}", file=sys.stderr)
        return 2
    if not arguments.input.is_file():
        print(f"error: {arguments.input} is not a file", file=sys.stderr)
        return 2
    settings = IdentitySettings()
    if arguments.policy:
        settings = settings.model_copy(update={"identity_policy_file": str(arguments.policy)})
    if arguments.model:
        settings = settings.model_copy(update={"identity_match_model_file": str(arguments.model)})
    try:
        rules = load_rules(settings)
    except (ConfigFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    deps = IdentityDeps(store=InMemoryIdentityStore(), rules=rules, clock=SystemClock())
    try:
        report = asyncio.run(_resolve(arguments, deps))
    except BatchAbortedError as exc:
        print(f"error: {exc} (--strict)", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(problem, file=sys.stderr)
    hidden = report.skipped + report.warnings - len(report.problems)
    if hidden > 0:
        print(f"… and {hidden:,} more problems (see --report)", file=sys.stderr)
    summary = {
        "lines": report.lines,
        "resolved": report.resolved,
        "skipped": report.skipped,
        "warnings": report.warnings,
        "outcomes": report.outcomes,
    }
    print(json.dumps(summary), file=sys.stderr)
    if arguments.report:
        arguments.report.write_text(json.dumps({**summary, "problems": report.problems}, indent=2) + "\n")
    return 0


async def _resolve(arguments: argparse.Namespace, deps: IdentityDeps) -> BatchReport:
    total = arguments.input.stat().st_size
    with (
        arguments.input.open("rb") as raw,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as assignments,
    ):
        progress = ProgressLine(total, raw.tell, unit="records")
        lines = (line.decode("utf-8", errors="replace") for line in raw)

        def show(report: BatchReport) -> None:
            progress.update(report.resolved, f"{report.skipped:,} skipped")

        report = await resolve_lines(
            lines, assignments, organisation_id=arguments.org, deps=deps, strict=arguments.strict, progress=show
        )
        progress.finish(report.resolved, f"{report.skipped:,} skipped")
        assignments.seek(0)
        with arguments.output.open("w", encoding="utf-8", newline="") as output:
            await write_final_assignments(csv.reader(assignments), output, organisation_id=arguments.org, deps=deps)
    return report
