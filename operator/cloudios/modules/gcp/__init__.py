"""GCP optimization modules (Compute Engine, Cloud SQL), pure."""
