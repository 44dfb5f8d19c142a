"""Azure provider (not yet implemented)."""
