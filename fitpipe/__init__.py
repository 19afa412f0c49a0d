"""fitpipe: Fitbit/Google Health wearable data for clinical trials, in TimescaleDB."""

__version__ = "0.1.0"
