"""Cloudios agent: reports workload metadata and usage from a customer cluster."""

__version__ = "0.1.0"
