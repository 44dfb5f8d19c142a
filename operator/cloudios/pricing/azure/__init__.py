"""Azure prices: the bundled pay-as-you-go snapshot, its model, and the refresh from the Retail Prices API."""

from cloudios.pricing.azure.book import (
    AzurePriceBook,
    AzureRegionPrices,
    TableSource,
    bundled,
    dump_book,
    parse_book,
)

__all__ = ["AzurePriceBook", "AzureRegionPrices", "TableSource", "bundled", "dump_book", "parse_book"]
