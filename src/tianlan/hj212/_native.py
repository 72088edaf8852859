"""Which hot modules are compiled with mypyc, and the switch back to their Python sources.

`setup.py` compiles the modules in `COMPILED_MODULES` into C extensions (one shared library,
``tianlan/_codec__mypyc``) when mypyc and a C compiler are at hand; the ``.py`` sources stay next to
them. Python imports an extension in preference to the source of the same name, so a compiled build
runs the extensions — unless `install` sees a reason to import the sources instead:

* ``TIANLAN_PURE_PYTHON`` is set (to anything but ``""`` or ``0``): the pure-Python variant on
  purpose, e.g. to profile with py-spy (which cannot see inside compiled functions) or to compare;
* the shared library is missing or does not load (a partial or broken build);
* in a source checkout (an editable install), a source changed since the build: its SHA-256 differs
  from the one `setup.py` recorded in ``build/tianlan-codec-sources.json``; running the old
  compiled code would silently ignore the edit, so the sources win and a logged warning says to rebuild
  (``scripts/bootstrap``). Installed from a wheel, sources and extensions come together: no check.

Only the standard library is used here: `setup.py` loads this file on its own to read the list.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["COMPILED_MODULES", "GROUP", "PURE_ENV", "compiled", "install", "pure_reason", "source_digests"]

COMPILED_MODULES: tuple[str, ...] = (
    "tianlan.hj212.crc",
    "tianlan.hj212.framing",
    "tianlan.hj212.packet",
    "tianlan.hj212.replies",
    "tianlan.ingest.item",
    "tianlan.ingest.observations",
    "tianlan.ingest.processor",
    "tianlan.ingest.rows",
)
"""Modules compiled by mypyc (the gateway's per-frame path); the rest of the package stays Python."""

GROUP = "tianlan._codec"
"""mypyc group name: the shared library is ``tianlan/_codec__mypyc.<ext>``."""

PURE_ENV = "TIANLAN_PURE_PYTHON"
"""Environment variable: set at build time, nothing is compiled; at run time, the sources are used."""

MANIFEST = os.path.join("build", "tianlan-codec-sources.json")
"""Written by setup.py, relative to the project root: {module: SHA-256 of the source compiled}."""

_installed: str | None = None  # why the sources are used, once decided ("" = the compiled modules)


def _package_dir() -> str:
    """The directory of the ``tianlan`` package (this file is tianlan/hj212/_native.py)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _source_path(root: str, module: str) -> str:
    return os.path.join(root, *module.split(".")[1:]) + ".py"


def source_digests(root: str, modules: Sequence[str] = COMPILED_MODULES) -> dict[str, str]:
    """SHA-256 (hex) of each module's source under `root`, the ``tianlan`` package directory."""
    digests: dict[str, str] = {}
    for module in modules:
        with open(_source_path(root, module), "rb") as f:
            digests[module] = hashlib.sha256(f.read()).hexdigest()
    return digests


def _has_extension(root: str, module: str) -> bool:
    base = os.path.join(root, *module.split(".")[1:])
    return any(os.path.exists(base + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _decide() -> tuple[str, bool]:
    """(why the sources must be imported, or ""; whether that deserves a warning)."""
    flag = os.environ.get(PURE_ENV, "")
    if flag not in ("", "0"):
        return f"{PURE_ENV} is set", False
    root = _package_dir()
    present = [_has_extension(root, module) for module in COMPILED_MODULES]
    if not any(present):
        return "not compiled", False
    if not all(present):
        return "partial build: some compiled modules are missing", True
    try:
        importlib.import_module(GROUP + "__mypyc")
    except ImportError as e:
        return f"the compiled modules' shared library does not load ({e})", True
    project = os.path.dirname(os.path.dirname(root))  # <project>/src/tianlan
    if not (os.path.isfile(os.path.join(project, "setup.py")) and os.path.isfile(os.path.join(project, "pyproject.toml"))):
        return "", False  # installed from a wheel: the extensions were built from the sources beside them
    try:
        with open(os.path.join(project, MANIFEST), encoding="utf-8") as f:
            built = json.load(f)
    except (OSError, ValueError):
        return f"no readable {MANIFEST} (built without setup.py, or build/ was removed)", True
    if "pure" in built:  # the last build chose pure Python; extensions here are left over
        return f"built as pure Python: {built['pure']}", False
    current = source_digests(root)
    stale = sorted(module for module in COMPILED_MODULES if built.get(module) != current[module])
    if stale:
        return f"source changed since the build: {', '.join(stale)}", True
    return "", False


def pure_reason() -> str:
    """Why the Python sources must be imported instead of the compiled modules ("" when they need not)."""
    return _decide()[0]


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the ``.py`` source of a compiled module, ahead of the extension of the same name."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES or not path:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path:
            candidate = os.path.join(entry, leaf)
            if os.path.isfile(candidate):
                return importlib.util.spec_from_file_location(fullname, candidate)
        return None


def install() -> str:
    """Decide once per process between compiled modules and sources; return the reason for the
    sources ("" = compiled modules, when present, are used). Call before importing any of them."""
    global _installed
    if _installed is not None:
        return _installed
    reason, warn = _decide()
    if reason:
        if warn:  # logged, not warnings.warn: a run with -W error must not fail to import over this
            logging.getLogger("tianlan").warning(
                "tianlan: using the Python sources of the HJ 212 codec (%s); rebuild the compiled modules "
                "with scripts/bootstrap (pip install -e .) for full speed",
                reason,
            )
        if reason != "not compiled":
            sys.meta_path.insert(0, _SourceFinder())
    _installed = reason
    return reason


def compiled(module: ModuleType) -> bool:
    """Whether `module` was loaded from a compiled extension rather than its ``.py`` source."""
    return not (getattr(module, "__file__", None) or "").endswith(".py")


if __name__ == "tianlan.hj212._native":  # imported first by tianlan.hj212 and tianlan.ingest
    install()
