"""Local stand-ins for the clouds (demo and tests only)."""
