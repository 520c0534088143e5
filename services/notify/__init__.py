"""Parterre notify service."""
