"""Parterre ingest service."""
