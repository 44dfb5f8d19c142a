"""Price book: bundled list-price snapshot and monthly savings arithmetic."""

from cloudios.pricing.book import (
    MULTI_AZ_FACTOR,
    SKUS,
    EbsPrice,
    PriceBook,
    RegionPrices,
    dump_book,
    load_book,
    parse_book,
    savings,
)

__all__ = [
    "MULTI_AZ_FACTOR",
    "SKUS",
    "EbsPrice",
    "PriceBook",
    "RegionPrices",
    "dump_book",
    "load_book",
    "parse_book",
    "savings",
]
