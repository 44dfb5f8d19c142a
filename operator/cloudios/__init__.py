"""Cloudios: find wasted cloud spend and prove how much each fix saves."""

__version__ = "0.1.0"
