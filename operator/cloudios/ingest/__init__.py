"""HTTPS ingest endpoint for agents and the data-rights API."""
