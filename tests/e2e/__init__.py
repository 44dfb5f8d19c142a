"""End-to-end tests: the operator against a real API server and the AWS emulator."""
