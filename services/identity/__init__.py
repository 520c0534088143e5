"""Parterre identity service."""
