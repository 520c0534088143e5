"""`python -m bench.identity.splink_run DIR`: Splink's pairwise precision, recall, F1 and runtime on DIR's audience.

DIR holds the input.jsonl and truth.csv written by `bench.identity.generate`; needs the `bench` dependency group.
"""

import argparse
from pathlib import Path

from bench.identity.generate import INPUT_FILE, TRUTH_FILE
from bench.identity.quality import pairwise_quality
from bench.identity.splink_baseline import run_splink_at_thresholds
from bench.identity.synthetic import read_truth
from bench.support import format_table

HEADER = ("matcher", "records", "threshold", "precision", "recall", "F1", "pairs scored", "train s", "total s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--threshold",
        type=float,
        action="append",
        help="match probability to cluster at; repeat for several (default: 0.5, 0.9, 0.95, 0.99, 0.999)",
    )
    arguments = parser.parse_args()
    thresholds = arguments.threshold or [0.5, 0.9, 0.95, 0.99, 0.999]
    truth = read_truth(arguments.directory / TRUTH_FILE)
    rows: list[tuple[str, ...]] = [HEADER]
    for clusters, run in run_splink_at_thresholds(arguments.directory / INPUT_FILE, thresholds):
        quality = pairwise_quality(truth, clusters)
        rows.append(
            (
                "splink 5 (duckdb)",
                f"{run.records:,}",
                f"{run.threshold:g}",
                f"{quality.precision:.4f}",
                f"{quality.recall:.4f}",
                f"{quality.f1:.4f}",
                f"{run.scored_pairs:,}",
                f"{run.train_seconds:.1f}",
                f"{run.total_seconds:.1f}",
            )
        )
    print(format_table(rows))


if __name__ == "__main__":
    main()
