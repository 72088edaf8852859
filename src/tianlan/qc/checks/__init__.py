"""Detectors of data quality (completeness, range, temporal, equipment state, provenance, time)."""
