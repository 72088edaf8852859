"""Shared fixtures for the HJ 212 codec tests: the verified frames of reference Appendix A."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# `pytest tests/hj212 --hypothesis-profile=hj212-stress` for a long run of the property tests.
settings.register_profile("hj212-stress", max_examples=3000, deadline=None)

_VECTORS = Path(__file__).with_name("appendix_a.txt")


def _load() -> dict[str, bytes]:
    frames: dict[str, bytes] = {}
    for line in _VECTORS.read_text(encoding="ascii").splitlines():
        if line and not line.startswith("#"):
            key, frame = line.split(" ", 1)
            frames[key] = frame.encode("ascii") + b"\r\n"
    return frames


APPENDIX_A: dict[str, bytes] = _load()
"""'0'..'14' → verified frame (with its CR LF); 'A1.9011' … 'A1.9014' → answer vectors."""


@pytest.fixture(scope="session")
def appendix() -> dict[str, bytes]:
    """Appendix A frames by id, each ending in CR LF as on the wire."""
    return dict(APPENDIX_A)
