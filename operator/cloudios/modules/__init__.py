"""Optimization modules: pure functions from a snapshot and settings to findings."""
