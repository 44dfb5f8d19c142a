"""Price book: bundled list-price snapshot and monthly savings arithmetic."""
