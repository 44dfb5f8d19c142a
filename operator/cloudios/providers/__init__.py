"""Cloud providers: per-account clients returning inventory and metric summaries."""
