"""Splink on the synthetic audience: the baseline our identity resolution is compared with.

The configuration follows Splink's own person-deduplication examples: Jaro-Winkler name levels with term
frequencies, Splink's email and date-of-birth comparisons, exact phone, postal code (full, then the first three
characters); candidate pairs blocked on email, phone, postal code with either name, and birth date with first
name; u estimated by random sampling, m by expectation maximisation over three blocking rules, then connected
components at a match probability threshold. Splink reads the input after the same light cleaning any
matcher gets (case, accents, punctuation, phone digits, the two birth-date layouts, Gmail dots and +tags), so
formats our own normalisation absorbs do not handicap it.

Where the obvious choice scored worse it was dropped, so the bar is Splink near its best on this data. Best F1
over the thresholds 0.9, 0.99, 0.999 and 0.9999 on the seed-7 audiences of 10,000 / 100,000 people:
- blocking predictions on full name too, besides email, phone, and postal code or birth date with a name:
  0.86 / 0.72 against 0.88 / 0.89 without it (name-only candidates are mostly namesakes the model overrates);
- comparing street and city too: 0.85 / 0.84 against 0.88 / 0.89 (both restate the postal code, which breaks
  the independence Splink's model assumes, as its docs warn);
- in earlier runs at 10,000, an address comparison mixing postal code and street, and a single first-and-last-
  name comparison (`ForenameSurnameComparison`) instead of two, did no better.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Splink and DuckDB come with the `bench` dependency group only; without it `make lint` still type-checks the rest.
import duckdb  # type: ignore[import-not-found, unused-ignore]
import splink.comparison_level_library as cll  # type: ignore[import-not-found, unused-ignore]
import splink.comparison_library as cl  # type: ignore[import-not-found, unused-ignore]
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # type: ignore[import-not-found, unused-ignore]

# Comparisons of pairs drawn at random to estimate u; Splink's docs suggest 1e7 to 1e9, more being slower.
# On 10,000 people 5e7 gave the same quality as 1e7 and took four times as long.
U_SAMPLE_PAIRS = 1e7
# Pairs scoring below this are dropped before clustering; every threshold asked for must be at or above it.
LOWEST_SCORED_PROBABILITY = 0.01
RANDOM_SEED = 42

_INPUT_COLUMNS = dict.fromkeys(
    (
        "record_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "city",
        "postal_code",
        "birth_date",
    ),
    "VARCHAR",
)

_CLEANED_AUDIENCE_SQL = """
create table audience as
with raw as (
    select * from read_json(?, format = 'newline_delimited', columns = {columns})
),
cleaned as (
    select
        record_id,
        nullif(trim(regexp_replace(lower(strip_accents(first_name)), '[^a-z]+', ' ', 'g')), '') as first_name,
        nullif(trim(regexp_replace(lower(strip_accents(last_name)), '[^a-z]+', ' ', 'g')), '') as last_name,
        nullif(lower(trim(email)), '') as email,
        nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 10), '') as phone,
        nullif(upper(regexp_replace(postal_code, '[^A-Za-z0-9]', '', 'g')), '') as postal_code,
        nullif(trim(regexp_replace(lower(strip_accents(street)), '[^a-z0-9]+', ' ', 'g')), '') as street,
        nullif(trim(regexp_replace(lower(strip_accents(city)), '[^a-z]+', ' ', 'g')), '') as city,
        coalesce(try_strptime(birth_date, '%Y-%m-%d'), try_strptime(birth_date, '%Y%m%d'))::date as birth_date
    from raw
)
select
    * replace (
        case
            when email like '%@gmail.com'
                then replace(split_part(split_part(email, '@', 1), '+', 1), '.', '') || '@gmail.com'
            else regexp_replace(email, '\\+[^@]*@', '@')
        end as email
    )
from cleaned
"""


@dataclass(frozen=True)
class SplinkRun:
    """What one Splink run did and how long each step took, in seconds of wall time."""

    records: int
    threshold: float
    scored_pairs: int
    load_seconds: float
    train_seconds: float
    predict_seconds: float
    cluster_seconds: float

    @property
    def total_seconds(self) -> float:
        return self.load_seconds + self.train_seconds + self.predict_seconds + self.cluster_seconds


def run_splink(input_jsonl: Path, *, threshold: float = 0.9) -> tuple[dict[str, str], SplinkRun]:
    """Deduplicates the batch input with Splink; returns record_id → cluster id and the run's timings."""
    return run_splink_at_thresholds(input_jsonl, (threshold,))[0]


def run_splink_at_thresholds(input_jsonl: Path, thresholds: Sequence[float]) -> list[tuple[dict[str, str], SplinkRun]]:
    """Trains and predicts once, then clusters at each threshold (clustering is the cheap step)."""
    if not thresholds or min(thresholds) < LOWEST_SCORED_PROBABILITY:
        raise ValueError(f"thresholds must be given and at least {LOWEST_SCORED_PROBABILITY}: {thresholds}")
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(_CLEANED_AUDIENCE_SQL.format(columns=_INPUT_COLUMNS), [str(input_jsonl)]).fetchall()
    records = _count(connection, "select count(*) from audience")
    database = DuckDBAPI(connection)
    linker = Linker(database.register("audience"), _settings(), log_level=logging.WARNING)
    loaded = time.perf_counter()

    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("first_name", "last_name", "postal_code")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=RANDOM_SEED)
    for training_rule in (block_on("first_name", "last_name"), block_on("email"), block_on("postal_code")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            training_rule, estimate_without_term_frequencies=True
        )
    trained = time.perf_counter()

    predictions = linker.inference.predict(threshold_match_probability=LOWEST_SCORED_PROBABILITY)
    scored_pairs = _count(connection, f"select count(*) from {predictions.physical_name}")  # noqa: S608
    predicted = time.perf_counter()

    runs = []
    for threshold in thresholds:
        clustering_started = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        )
        rows = connection.execute(f"select record_id, cluster_id from {clusters.physical_name}").fetchall()  # noqa: S608
        cluster_of = {str(record_id): str(cluster_id) for record_id, cluster_id in rows}
        runs.append(
            (
                cluster_of,
                SplinkRun(
                    records=records,
                    threshold=threshold,
                    scored_pairs=scored_pairs,
                    load_seconds=loaded - started,
                    train_seconds=trained - loaded,
                    predict_seconds=predicted - trained,
                    cluster_seconds=time.perf_counter() - clustering_started,
                ),
            )
        )
    connection.close()
    return runs


def _settings() -> SettingsCreator:
    postal_code = cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel("postal_code"),
            cll.ExactMatchLevel("postal_code", term_frequency_adjustments=True),
            cll.CustomLevel("substr(postal_code_l, 1, 3) = substr(postal_code_r, 1, 3)", label_for_charts="Same FSA"),
            cll.ElseLevel(),
        ],
        output_column_name="postal_code",
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            postal_code,
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("postal_code", "last_name"),
            block_on("postal_code", "first_name"),
            block_on("birth_date", "first_name"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def _count(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    # Fetching every row completes the statement, which DuckDB requires before the connection runs another.
    rows = connection.execute(sql).fetchall()
    return int(rows[0][0])
