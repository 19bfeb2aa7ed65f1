"""Rollback Cockpit: the tool an on-call engineer reaches for when a deploy goes bad."""

__version__ = "0.1.0"
