"""Decoded HJ 212 flags are computed once per series; the built-in configuration's switches."""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.checks import _common
from tianlan.qc.checks._common import flag_in, flag_list, flag_state, has_state, valid_mask
from tianlan.qc.config import SiteScope, default_config
from tianlan.qc.core import Series, load_all


def test_flags_are_decoded_once_per_series_and_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    real = _common.FlagState.__init__

    def counting(self, flags):  # type: ignore[no-untyped-def]
        made.append(1)
        real(self, flags)

    monkeypatch.setattr(_common.FlagState, "__init__", counting)
    flags = np.array(["N", " M", None, "D", "N ", "", "c", "C"], dtype=object)
    s = Series("S", "a21026", np.arange(8) * 60, [1.0, 2.0, 3.0, np.nan, 5.0, 6.0, 7.0, 8.0], flags=flags, step_s=60)
    for _ in range(5):  # a dozen detectors ask; the flags are decoded once
        assert flag_list(s) == ["N", "M", "", "D", "N", "", "c", "C"]
        assert valid_mask(s).tolist() == [True, False, True, False, True, True, True, False]
        assert has_state(s)
        assert flag_in(s, frozenset({"C", "0"})).tolist() == [False] * 7 + [True]
    assert len(made) == 1 and flag_state(s) is flag_state(s)
    # a new series (e.g. after flags were edited) decodes its own
    flags2 = flags.copy()
    flags2[1] = "N"
    s2 = Series("S", "a21026", s.times, s.values, flags=flags2, step_s=60)
    assert valid_mask(s2).tolist() == [True, True, True, False, True, True, True, False]
    assert len(made) == 2
    blank = Series("S", "a21026", s.times, s.values, flags=np.array([None, ""] * 4, dtype=object), step_s=60)
    assert not has_state(blank) and valid_mask(blank).tolist() == np.isfinite(s.values).tolist()
    assert flag_state(Series("S", "a21026", s.times, s.values)) is None


def test_default_config_skips_its_entries_for_detectors_a_registry_lacks(toys) -> None:
    cfg = default_config(registry=toys)  # default.yaml names TMP-03, which the toy registry lacks
    assert "TMP-03" not in cfg.detector_ids and set(cfg.detector_ids) == set(toys)


def test_default_config_switches_tmp03_off_at_flue_gas_outlets_only() -> None:
    load_all()
    cfg = default_config()
    assert cfg.plan("TMP-03", SiteScope("S-E1", "source"), "a34013") == ()
    assert cfg.plan("TMP-03", SiteScope("A-1", "air"), "a34004")
    assert cfg.plan("CEMS-04", SiteScope("S-E1", "source"), "a34013")
