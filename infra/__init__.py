"""camops: the ops library of the quarantine-facility camera systems."""

__version__ = "0.1.0"
