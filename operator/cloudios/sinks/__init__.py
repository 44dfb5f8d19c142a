"""Output sinks: Recommendation CRs, Prometheus, webhooks, verifier."""
