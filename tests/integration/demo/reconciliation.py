"""What a season must add up to once the pipeline has drained, however rough its way through the platform was."""

from demo.run import Summary

CONSUMER_GROUPS = ("parterre-identity", "parterre-profile", "parterre-notify-changes", "parterre-notify-triggers")
FILTER_REASONS = {
    "suppressed",
    "erasure_unknown_person",
    "erasure_request",
    "not_a_profile_fact",
    "erased_person",
    "erased",
}


def assert_reconciled(summary: Summary, namespace: str, *, poison_dead_letters: int = 0) -> None:
    """Every event ingest accepted is profiled once, dead-lettered or filtered with its reason, exactly; nothing was
    dead-lettered but the poison messages published past ingest (identity's); and the receiver never got one
    message under two ids."""
    intake, stored = summary.intake, summary.stored
    assert intake.accepted > 0
    dead_letters = {name.removeprefix(namespace): count for name, count in summary.drained.new_dead_letters.items()}
    assert dead_letters == dict.fromkeys(CONSUMER_GROUPS, 0) | {"parterre-identity": poison_dead_letters}
    # accepted = profiled + dead-lettered + filtered. The poison's dead letter is the one not among the accepted.
    assert summary.unaccounted == -poison_dead_letters, (
        f"accepted {intake.accepted:,} ({intake.details()}), profiled {summary.newly_profiled:,}, dead-lettered "
        f"{summary.facts_dead_lettered:,}, filtered {summary.newly_filtered:,} {dict(stored.facts_filtered)}"
    )
    # The season's privacy requests are carried out, not profiled, and the erasure takes the patron's facts with it.
    assert set(stored.facts_filtered) <= FILTER_REASONS
    requests = summary.season.facts["access requests"] + summary.season.facts["erasure requests"]
    assert summary.newly_filtered > requests > 0
    # A message may arrive twice after a crash, but always under its one id: the receiver counts ids, and gets each
    # message notify sent it and no other. One whose sender died before hearing the answer, and which was then
    # suppressed (consent withdrawn meanwhile), may or may not have arrived.
    assert stored.delivered <= summary.receiver_verified <= stored.delivered + stored.maybe_delivered
    assert stored.deliveries["succeeded"] <= stored.delivered
    assert summary.receiver_refused == 0
