"""Kubernetes provider: summaries reported by the agent, read from the store."""
