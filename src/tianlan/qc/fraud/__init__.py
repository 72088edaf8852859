"""Detectors of falsification (cross-variable, spatial, marks, metadata, CEMS, water, forensic)."""
