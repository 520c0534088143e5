"""Pure ingest logic: upstream formats to shared events, with field-level errors; no I/O."""
