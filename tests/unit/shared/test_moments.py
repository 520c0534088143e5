from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from shared.moments import to_the_millisecond

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])


@given(st.datetimes(timezones=ZONES))
def test_a_moment_loses_what_is_below_the_millisecond_and_keeps_its_zone(moment: datetime) -> None:
    rounded = to_the_millisecond(moment)

    assert rounded == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert rounded.tzinfo is moment.tzinfo
    assert to_the_millisecond(rounded) == rounded


def test_a_moment_already_whole_and_one_just_below_the_next_millisecond() -> None:
    whole = datetime(2026, 12, 6, 9, 0, 0, 123_000, tzinfo=UTC)
    assert to_the_millisecond(whole) is whole
    assert to_the_millisecond(whole + timedelta(microseconds=999)) == whole
