"""AWS provider: assumed-role sessions, inventory and CloudWatch metric summaries."""
