"""Pricing: one PriceBook interface over per-cloud price snapshots, and monthly savings."""

from cloudios.pricing.base import PriceBook, savings, unpriced_reason
from cloudios.pricing.snapshots import load_book

__all__ = ["PriceBook", "load_book", "savings", "unpriced_reason"]
