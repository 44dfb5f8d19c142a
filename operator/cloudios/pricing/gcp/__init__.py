"""GCP prices: the bundled on-demand snapshot with a source and date per table, and its refresh."""

from cloudios.pricing.gcp.book import SKUS, GcpPriceBook, PriceTable, bundled, dump_book, parse_book

__all__ = ["SKUS", "GcpPriceBook", "PriceTable", "bundled", "dump_book", "parse_book"]
