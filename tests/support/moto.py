"""moto server fixtures (placeholder until the AWS provider lands)."""
