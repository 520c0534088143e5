"""`make bench`: runs the benchmarks, prints one table and writes bench/results.json."""

import argparse
import json
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    identity_resolution,
    ingest_api,
    ingest_csv,
    kafka_ceiling,
    pipeline,
    profile_overview,
    profile_updates,
)
from bench.support import Result, format_table, servers
from shared.gc_tuning import tune_garbage_collection
from shared.service import run_as_served
from shared.signals import stopped_as_by_ctrl_c

RESULTS = Path(__file__).with_name("results.json")


def table(results: list[Result]) -> str:
    rows = [("benchmark", "result", "goal", "notes")] + [
        (result.name, _value(result), result.goal, result.note) for result in results
    ]
    return format_table(rows)


def _value(result: Result) -> str:
    # Ratios (F1, precision) need their decimals; rates and sizes read better rounded.
    number = (
        f"{result.value:.4f}"
        if abs(result.value) < 10 and result.value != int(result.value)
        else f"{result.value:,.0f}"
    )
    return f"{number} {result.unit}"


BENCHMARKS = ("kafka", "ingest-api", "ingest-csv", "identity", "profile", "pipeline")


async def run_all(quick: bool, only: frozenset[str] = frozenset(BENCHMARKS)) -> list[Result]:
    scale = 10 if quick else 1
    results: list[Result] = []
    with servers() as found:
        # The pipeline is compared with the ceiling measured in the same run, so it measures one if asked alone.
        if "kafka" in only or "pipeline" in only:
            results += await kafka_ceiling.measure(found, count=100_000 // scale)
        if "ingest-api" in only:
            results += await ingest_api.measure(found, count=100_000 // scale)
        if "ingest-csv" in only:
            results += await ingest_csv.measure(found, rows=1_000_000 // scale)
        if "identity" in only:
            results += await identity_resolution.measure(found, quick=quick)
        if "profile" in only:
            results += await profile_updates.measure(found, quick=quick)
            results += await profile_overview.measure(found, quick=quick)
        if "pipeline" in only:
            ceiling = next(result.value for result in results if result.name == kafka_ceiling.END_TO_END)
            results += await pipeline.measure(found, quick=quick, ceiling=ceiling)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the volume, to check the benchmarks run")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeat for several)"
    )
    arguments = parser.parse_args()
    # The services the benchmarks run in this process pace their collector as their own processes do.
    tune_garbage_collection()
    # On the services' own event loop: the benchmarks run some services in this process.
    # SIGTERM stops a run as Ctrl-C does: the servers it started are stopped on the way out, not left running.
    with stopped_as_by_ctrl_c():
        results = run_as_served(run_all(arguments.quick, frozenset(arguments.only or BENCHMARKS)))
    print(table(results))
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
                "quick": arguments.quick,
                "results": [asdict(result) for result in results],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
