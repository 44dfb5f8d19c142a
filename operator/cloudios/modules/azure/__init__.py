"""Azure optimization modules."""
