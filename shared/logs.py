"""Structured logging: one JSON object per line, carrying the correlation id of the work in progress."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
organisation_id_var: ContextVar[str | None] = ContextVar("organisation_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the output.
_STANDARD_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (correlation_id := correlation_id_var.get()) is not None:
            entry["correlation_id"] = correlation_id
        if (organisation_id := organisation_id_var.get()) is not None:
            entry["organisation_id"] = organisation_id
        for key, value in vars(record).items():
            if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str, log_format: Literal["json", "text"]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka logs every rebalance and connection at INFO; operators need its warnings only.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # httpx logs each request's whole URL at INFO, and httpcore each step at DEBUG: a receiver's URL may hold its key
    # (`…/services/T01/B01/<token>`, `?api_key=`), which no log is to keep. Notify logs the site alone.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
