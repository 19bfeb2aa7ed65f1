"""Rollback Cockpit."""
