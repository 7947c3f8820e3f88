"""The package version, in a leaf module (read by the lab notebook's session facts too)."""

__version__ = "0.1.0"
