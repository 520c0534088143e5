"""The four Parterre services: ingest, identity, profile and notify."""
