"""The bulk publisher's partition choice is the one every Kafka producer makes for a key."""

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from shared.kafka import kafka_partition_index


@given(key=st.binary(max_size=80), partitions=st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_partition_aiokafkas_default_partitioner_picks(key: bytes, partitions: int) -> None:
    every_partition = list(range(partitions))

    assert kafka_partition_index(key, partitions) == DefaultPartitioner()(key, every_partition, every_partition)


def test_known_keys_go_where_the_java_client_puts_them() -> None:
    # murmur2 values from Kafka's own tests (org.apache.kafka.common.utils.UtilsTest#testMurmur2).
    expected = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}

    for key, murmur2 in expected.items():
        assert kafka_partition_index(key, 2**31 - 1) == (murmur2 & 0x7FFFFFFF) % (2**31 - 1)


def test_a_keys_partition_is_computed_once_and_remembered_for_its_next_records() -> None:
    kafka_partition_index.cache_clear()
    kafka_partition_index(b"person-1", 12)
    kafka_partition_index(b"person-1", 12)

    assert kafka_partition_index.cache_info().hits == 1
