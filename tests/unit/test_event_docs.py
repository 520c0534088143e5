"""The event catalog documents are generated from the code and never drift from it."""

import json
from pathlib import Path
from typing import Any

from shared.asyncapi import asyncapi_document, events_markdown
from shared.cli import main
from shared.events import all_event_types
from shared.topics import TOPICS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_committed_documents_match_the_code(capsys: Any) -> None:
    assert main(["docs", "events", "--output-dir", str(DOCS), "--check"]) == 0, capsys.readouterr().err


def test_the_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    (tmp_path / "asyncapi.json").write_text("{}")
    (tmp_path / "events.md").write_text(events_markdown())
    assert main(["docs", "events", "--output-dir", str(tmp_path), "--check"]) == 1


def _resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = json.loads(json.dumps(asyncapi_document()))
    references = _references(document)
    assert references
    for reference in references:
        _resolve(document, reference)


def test_every_event_type_is_a_message_on_its_topics_channel_with_an_example_of_its_type() -> None:
    document = asyncapi_document()
    by_address = {channel["address"]: channel for channel in document["channels"].values()}
    assert set(by_address) == {topic.name for topic in TOPICS}
    for event in all_event_types():
        message_id = event.name.removeprefix("parterre.").replace(".", "_")
        assert message_id in by_address[event.topic.name]["messages"]
        message = document["components"]["messages"][message_id]
        assert message["examples"][0]["payload"]["type"] == event.name
        assert message["examples"][0]["payload"]["organisationid"] == "theatre-du-nord"
