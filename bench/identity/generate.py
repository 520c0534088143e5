"""`python -m bench.identity.generate --people N --seed S --out DIR`: writes DIR/input.jsonl and DIR/truth.csv."""

import argparse
import sys
import time
from pathlib import Path

from bench.identity.synthetic import generate_audience, write_audience

INPUT_FILE = "input.jsonl"
TRUTH_FILE = "truth.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000, help="true persons in the audience")
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives the same audience")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the two files into")
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def progress(records: int) -> None:
        print(f"\r{records:,} records written", end="", file=sys.stderr, flush=True)

    records = write_audience(
        generate_audience(arguments.people, arguments.seed),
        arguments.out / INPUT_FILE,
        arguments.out / TRUTH_FILE,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    print(
        f"\r{records:,} records of {arguments.people:,} people (seed {arguments.seed}) in {seconds:.1f} s "
        f"→ {arguments.out / INPUT_FILE}, {arguments.out / TRUTH_FILE}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
