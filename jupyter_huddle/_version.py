"""The package version, read by the wheel build."""

__version__ = "0.1.0"
