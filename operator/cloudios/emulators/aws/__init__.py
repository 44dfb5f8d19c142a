"""The AWS stand-in: moto's server with CloudWatch fixes, and a sample estate seeded into it."""
