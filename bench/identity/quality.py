"""Pairwise precision, recall and F1 of a clustering against the truth, counted without enumerating pairs."""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PairwiseQuality:
    """How well predicted clusters reproduce the true persons, over all pairs of records.

    A pair is predicted when both records share a predicted cluster and true when they belong to one person.
    With no pair to find (or none predicted), recall (or precision) is 1: nothing was missed (or claimed).
    """

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int


def pairwise_quality(truth: Mapping[str, str], predicted: Mapping[str, str]) -> PairwiseQuality:
    """Compares record_id → cluster id maps; a record `predicted` does not mention is a cluster of its own."""
    unknown = predicted.keys() - truth.keys()
    if unknown:
        raise ValueError(f"{len(unknown)} predicted record ids are not in the truth, e.g. {sorted(unknown)[:3]}")
    # A record without a predicted cluster gets a key no real cluster id can equal.
    predicted_of = {record_id: predicted.get(record_id, (record_id,)) for record_id in truth}
    true_sizes = Counter(truth.values())
    predicted_sizes = Counter(predicted_of.values())
    overlaps = Counter((truth[record_id], predicted_of[record_id]) for record_id in truth)
    true_pairs = _pairs(true_sizes.values())
    predicted_pairs = _pairs(predicted_sizes.values())
    true_positive_pairs = _pairs(overlaps.values())
    precision = true_positive_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive_pairs / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseQuality(precision, recall, f1, true_pairs, predicted_pairs, true_positive_pairs)


def _pairs(cluster_sizes: Iterable[int]) -> int:
    return sum(size * (size - 1) // 2 for size in cluster_sizes)
