"""AWS prices: the bundled on-demand snapshot, its model, and the refresh from the Price List."""

from cloudios.pricing.aws.book import (
    MULTI_AZ_FACTOR,
    SKUS,
    AwsPriceBook,
    EbsPrice,
    RegionPrices,
    bundled,
    dump_book,
    parse_book,
)

__all__ = [
    "MULTI_AZ_FACTOR",
    "SKUS",
    "AwsPriceBook",
    "EbsPrice",
    "RegionPrices",
    "bundled",
    "dump_book",
    "parse_book",
]
