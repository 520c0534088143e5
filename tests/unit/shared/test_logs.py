"""Log lines are JSON objects carrying the service, the correlation id and the organisation of the work."""

import json
import logging

import httpx
import pytest

from shared.logs import JsonFormatter, configure_logging, correlation_id_var, organisation_id_var


def format_record(message: str, **extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"name": "parterre.test", "levelname": "INFO", "msg": message, **extra})
    parsed: dict[str, object] = json.loads(JsonFormatter("ingest").format(record))
    return parsed


def test_a_log_line_carries_the_correlation_and_organisation_of_the_work_in_progress() -> None:
    correlation = correlation_id_var.set("corr-42")
    organisation = organisation_id_var.set("theatre-du-nord")
    try:
        line = format_record("accepted %d events", args=(3,), source="shopify-main")
    finally:
        correlation_id_var.reset(correlation)
        organisation_id_var.reset(organisation)

    assert line["message"] == "accepted 3 events"
    assert line["service"] == "ingest"
    assert line["correlation_id"] == "corr-42"
    assert line["organisation_id"] == "theatre-du-nord"
    assert line["source"] == "shopify-main"
    assert line["level"] == "INFO"


def test_a_log_line_outside_any_work_has_no_correlation_id_and_keeps_accents() -> None:
    line = format_record("Hélène a acheté 2 billets")

    assert "correlation_id" not in line
    assert line["message"] == "Hélène a acheté 2 billets"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_no_log_line_gives_the_url_of_a_request_sent_which_may_hold_its_receiver_s_key(
    level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    quieted = {name: logging.getLogger(name).level for name in ("aiokafka", "httpx", "httpcore")}
    try:
        configure_logging("notify", level, "json")
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200))) as client:
            await client.post("https://hooks.example.com/services/T01/B01/XyZsEcReT?api_key=hunter2", content=b"{}")
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name, quiet in quieted.items():
            logging.getLogger(name).setLevel(quiet)

    logged = capsys.readouterr().err
    assert "XyZsEcReT" not in logged
    assert "hunter2" not in logged
