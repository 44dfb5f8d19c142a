"""Control-plane fixtures (placeholder until the harness lands)."""
