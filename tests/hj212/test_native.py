"""The compiled hot modules (mypyc, setup.py) and the switch back to their Python sources."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from tianlan.hj212 import _native, crc


def test_every_compiled_module_has_its_source() -> None:
    root = Path(_native.__file__).resolve().parents[1]  # the tianlan package
    for module in _native.COMPILED_MODULES:
        assert (root.joinpath(*module.split(".")[1:]).with_suffix(".py")).is_file(), module
    assert set(_native.source_digests(str(root))) == set(_native.COMPILED_MODULES)


def test_compiled_or_not_all_together() -> None:
    states = {module: _native.compiled(importlib.import_module(module)) for module in _native.COMPILED_MODULES}
    assert len(set(states.values())) == 1, states
    assert crc.COMPILED is states["tianlan.hj212.crc"]
    assert crc.COMPILED == (_native.pure_reason() == "")


def test_tianlan_pure_python_makes_the_sources_load() -> None:
    code = (
        "import tianlan.ingest.processor as p, tianlan.hj212.crc as c, tianlan.hj212._native as n;"
        "print(p.__file__.endswith('.py'), c.COMPILED, n.pure_reason())"
    )
    env = dict(os.environ, TIANLAN_PURE_PYTHON="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split(None, 2)[:2] == ["True", "False"] and "TIANLAN_PURE_PYTHON" in out


def test_classes_pickle_and_copy_as_the_dataclasses_they_are() -> None:
    """Compiled classes cannot take a dataclass's setstate; their __reduce__ goes through __init__."""
    import copy
    import pickle

    from tianlan.hj212 import CpData, FrameReader, FramingError, RawFrame, build_frame, decode
    from tianlan.ingest.item import IngestItem
    from tianlan.ingest.processor import DeviceAuth

    frame = build_frame("QN=20190101000000001;ST=22;CN=2061;PW=1;MN=M;Flag=5;CP=&&DataTime=20190101000000;a-Avg=1&&")
    item = IngestItem(frame, 1.0, "p", status="accepted", obs=[(1, "a", "hour", 1.0, None, None, None, None, None, None)])
    objects = [
        RawFrame(b"##", b"seg", b"ABCD", ("x",)),
        FramingError("garbage", b"\x00", "why"),
        CpData("t", {"a": "b"}, {"c": {"Rtd": "1"}}),
        decode(frame),
        item,
        DeviceAuth(1, "M", "pw", frozenset({"standard"}), False),
    ]
    for obj in objects:
        for clone in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
            assert clone == obj and type(clone) is type(obj)
    reader = FrameReader(500)
    reader.feed(frame[:10])
    for clone in (pickle.loads(pickle.dumps(reader)), copy.copy(reader), copy.deepcopy(reader)):
        assert (clone.max_length, clone.buffered) == (500, 10)
        assert clone.feed(frame[10:]) == [RawFrame(frame, frame[6:-6], frame[-6:-2])]
