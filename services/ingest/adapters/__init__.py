"""Ingest adapters: Kafka and the store."""
