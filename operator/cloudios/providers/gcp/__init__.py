"""GCP provider (not yet implemented)."""
