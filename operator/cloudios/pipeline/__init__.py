"""Scan pipeline: collect, evaluate, dedupe, price, publish."""
