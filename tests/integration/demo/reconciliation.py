"""What a season must add up to once the pipeline has drained, however rough its way through the platform was."""

from demo.run import Summary

CONSUMER_GROUPS = ("parterre-identity", "parterre-profile", "parterre-notify-changes", "parterre-notify-triggers")


def assert_reconciled(summary: Summary, namespace: str, *, poison_dead_letters: int = 0) -> None:
    """Every event ingest accepted reached a profile exactly once, nothing was dead-lettered but the poison messages
    published past ingest (identity's), and the receiver never got one message under two ids."""
    intake, stored = summary.intake, summary.stored
    assert intake.accepted > 0
    assert stored.facts_profiled == intake.accepted, (
        f"profiled {stored.facts_profiled:,}, accepted {intake.accepted:,} ({intake.details()}), "
        f"new dead letters {summary.drained.new_dead_letters}"
    )
    dead_letters = {name.removeprefix(namespace): count for name, count in summary.drained.new_dead_letters.items()}
    assert dead_letters == dict.fromkeys(CONSUMER_GROUPS, 0) | {"parterre-identity": poison_dead_letters}
    # A message may arrive twice after a crash, but always under its one id: the receiver counts ids.
    assert stored.deliveries["succeeded"] == summary.receiver_verified
    assert summary.receiver_refused == 0
