"""Repository of scans, findings and audit events (SQLite default, PostgreSQL later)."""

from cloudios.domain import ScanRecord, StoredFinding
from cloudios.store.repository import Repository, ScanDiff
from cloudios.store.sql import SqlRepository, data_dir

__all__ = ["Repository", "ScanDiff", "ScanRecord", "SqlRepository", "StoredFinding", "data_dir"]
