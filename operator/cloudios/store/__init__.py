"""Repository of scans, findings and audit events (SQLite default, PostgreSQL later)."""
