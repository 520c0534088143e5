"""Parterre profile service."""
