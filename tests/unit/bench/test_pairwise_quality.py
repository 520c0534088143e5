"""Pairwise precision, recall and F1 count pairs of records from cluster sizes, as a brute-force count would."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.identity.quality import PairwiseQuality, pairwise_quality

# Up to 30 records, each with a true person and a predicted cluster drawn from a few labels.
labelled_records = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=30)


def brute_force(truth: dict[str, str], predicted: dict[str, str]) -> tuple[int, int, int]:
    true_pairs = predicted_pairs = both = 0
    for first, second in itertools.combinations(sorted(truth), 2):
        same_person = truth[first] == truth[second]
        same_cluster = first in predicted and second in predicted and predicted[first] == predicted[second]
        true_pairs += same_person
        predicted_pairs += same_cluster
        both += same_person and same_cluster
    return true_pairs, predicted_pairs, both


def test_a_hand_counted_example_gives_its_precision_recall_and_f1() -> None:
    # True persons {a, b, c} and {d, e}: 3 + 1 = 4 true pairs.
    truth = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P2"}
    # Predicted {a, b} and {c, d, e}: 1 + 3 = 4 predicted pairs, of which a-b and d-e are true.
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "y"}

    assert pairwise_quality(truth, predicted) == PairwiseQuality(
        precision=0.5, recall=0.5, f1=0.5, true_pairs=4, predicted_pairs=4, true_positive_pairs=2
    )


def test_merging_two_people_keeps_recall_and_loses_precision() -> None:
    truth = {"a": "P1", "b": "P1", "c": "P2", "d": "P2"}
    everything_together = dict.fromkeys(truth, "one")

    quality = pairwise_quality(truth, everything_together)

    assert (quality.true_pairs, quality.predicted_pairs, quality.true_positive_pairs) == (2, 6, 2)
    assert quality.recall == 1.0
    assert quality.precision == pytest.approx(1 / 3)
    assert quality.f1 == pytest.approx(0.5)


def test_a_record_missing_from_the_prediction_counts_as_a_singleton() -> None:
    truth = {"a": "P1", "b": "P1", "c": "P1"}

    quality = pairwise_quality(truth, {"a": "x", "b": "x"})

    assert (quality.true_pairs, quality.predicted_pairs, quality.true_positive_pairs) == (3, 1, 1)
    assert quality.precision == 1.0
    assert quality.recall == pytest.approx(1 / 3)


def test_cluster_ids_that_look_like_record_ids_do_not_join_missing_records_to_a_cluster() -> None:
    quality = pairwise_quality({"a": "P1", "b": "P1"}, {"b": "a"})

    assert quality.predicted_pairs == 0


def test_a_predicted_record_the_truth_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the truth"):
        pairwise_quality({"a": "P1"}, {"a": "x", "z": "x"})


def test_with_nothing_to_find_and_nothing_claimed_the_score_is_perfect() -> None:
    quality = pairwise_quality({"a": "P1", "b": "P2"}, {"a": "x", "b": "y"})

    assert (quality.precision, quality.recall, quality.f1) == (1.0, 1.0, 1.0)


@given(labelled_records)
def test_the_counts_equal_a_brute_force_count_over_all_pairs(records: list[tuple[int, int]]) -> None:
    truth = {f"r{index}": f"P{person}" for index, (person, _) in enumerate(records)}
    # Cluster label 0 stands for "absent from the prediction".
    predicted = {f"r{index}": f"C{cluster}" for index, (_, cluster) in enumerate(records) if cluster}

    quality = pairwise_quality(truth, predicted)

    assert (quality.true_pairs, quality.predicted_pairs, quality.true_positive_pairs) == brute_force(truth, predicted)


@given(labelled_records, st.permutations(range(6)))
def test_a_prediction_equal_to_the_truth_up_to_renaming_is_perfect(
    records: list[tuple[int, int]], renaming: list[int]
) -> None:
    truth = {f"r{index}": f"P{person}" for index, (person, _) in enumerate(records)}
    predicted = {f"r{index}": f"cluster-{renaming[person]}" for index, (person, _) in enumerate(records)}

    quality = pairwise_quality(truth, predicted)

    assert (quality.precision, quality.recall, quality.f1) == (1.0, 1.0, 1.0)


@given(labelled_records)
def test_all_singletons_find_no_pair_and_claim_none(records: list[tuple[int, int]]) -> None:
    truth = {f"r{index}": f"P{person}" for index, (person, _) in enumerate(records)}
    singletons = {record_id: record_id for record_id in truth}

    quality = pairwise_quality(truth, singletons)

    assert quality.predicted_pairs == 0
    assert quality.precision == 1.0
    assert quality.recall == (0.0 if quality.true_pairs else 1.0)


@given(labelled_records)
def test_scores_stay_between_zero_and_one_and_f1_between_precision_and_recall(records: list[tuple[int, int]]) -> None:
    truth = {f"r{index}": f"P{person}" for index, (person, _) in enumerate(records)}
    predicted = {f"r{index}": f"C{cluster}" for index, (_, cluster) in enumerate(records)}

    quality = pairwise_quality(truth, predicted)

    assert 0.0 <= quality.precision <= 1.0
    assert 0.0 <= quality.recall <= 1.0
    low, high = sorted((quality.precision, quality.recall))
    assert low - 1e-12 <= quality.f1 <= high + 1e-12
