"""Build hook: compile the gateway's per-frame modules (HJ 212 codec, ingest verdict) with mypyc.

The project metadata lives in pyproject.toml; this file only adds optional C extensions. They are
built when all of these hold, otherwise the package installs as pure Python and works the same,
only slower (benchmarks/codec.py measures both):

* the environment variable ``TIANLAN_PURE_PYTHON`` is not set (or is ``""``/``0``);
* mypyc can be imported (``mypy`` is a build requirement in pyproject.toml, so pip provides it);
* a C compiler works and finds ``Python.h`` (Debian: ``apt-get install gcc python3-dev``).

The build is all or nothing: if any extension fails to compile, the ones built are removed again
and the sources are used. It records the SHA-256 of each compiled source in
``build/tianlan-codec-sources.json``; at import in a source checkout, a source that no longer matches
makes Tianlan use the sources instead (with a warning), so an edit is never shadowed by a stale
compiled module — see ``src/tianlan/hj212/_native.py``. ``scripts/bootstrap`` rebuilds when those
sources change. Generated C goes to ``build/`` too.
"""

from __future__ import annotations

import inspect
import json
import os
import runpy
import sys
import sysconfig
import tempfile
import time
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(ROOT, "src", "tianlan")
NATIVE: dict[str, Any] = runpy.run_path(os.path.join(PACKAGE_DIR, "hj212", "_native.py"))
MODULES: tuple[str, ...] = NATIVE["COMPILED_MODULES"]
GROUP: str = NATIVE["GROUP"]


def _say(message: str) -> None:
    print(f"tianlan setup.py: {message}", file=sys.stderr)


def _compiler_problem() -> str:
    """Why C extensions cannot be built here ("" when a compiler works and finds Python.h)."""
    try:
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler

        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "probe.c")
            with open(source, "w") as f:
                f.write("#include <Python.h>\nint tianlan_probe(void) { return PY_VERSION_HEX > 0; }\n")
            compiler = new_compiler()
            customize_compiler(compiler)
            compiler.compile([source], output_dir=tmp, include_dirs=[sysconfig.get_paths()["include"]])
    except Exception as e:  # CompileError, DistutilsExecError (no gcc), OSError, ...
        return f"no working C compiler with Python headers ({type(e).__name__}: {e})"
    return ""


def _record(content: dict[str, str]) -> None:
    """Write the manifest the package reads at import (see _native.py)."""
    manifest = os.path.join(ROOT, NATIVE["MANIFEST"])
    os.makedirs(os.path.dirname(manifest), exist_ok=True)
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump(content, f, indent=1, sort_keys=True)
        f.write("\n")


def _pure(reason: str) -> list[Any]:
    _say(f"{reason}: installing pure Python")
    _record({"pure": reason})
    return []


def _ext_modules() -> list[Any]:
    if os.environ.get(NATIVE["PURE_ENV"], "") not in ("", "0"):
        return _pure(f"{NATIVE['PURE_ENV']} is set")
    try:
        from mypyc.build import mypycify
    except ImportError:
        return _pure("mypyc is not available")
    problem = _compiler_problem()
    if problem:
        return _pure(problem)
    if "group_name" not in inspect.signature(mypycify).parameters:
        return _pure("this mypyc is too old (no group_name)")
    paths = [os.path.relpath(os.path.join(ROOT, "src", *m.split(".")) + ".py", os.getcwd()) for m in MODULES]
    started = time.monotonic()
    try:
        extensions = mypycify(
            # mypy command-line options, then the files; type errors in modules they import (other
            # packages of the project) must not stop the codec from compiling.
            ["--follow-imports=silent", *paths],
            only_compile_paths=paths,
            opt_level="3",
            group_name=GROUP,
        )
    except (Exception, SystemExit) as e:
        return _pure(f"mypyc failed ({type(e).__name__}: {e})")
    _say(f"mypyc translated {len(paths)} modules in {time.monotonic() - started:.1f} s; compiling C")
    return list(extensions)


class BuildExt(build_ext):
    """All-or-nothing build of the mypyc extensions, plus the manifest of the sources compiled."""

    def run(self) -> None:
        if not self.extensions:
            return
        manifest = os.path.join(ROOT, NATIVE["MANIFEST"])
        if os.path.exists(manifest):
            os.remove(manifest)
        try:
            super().run()
        except Exception as e:  # CCompilerError, DistutilsExecError, LinkError, OSError, ...
            built = [*self.get_outputs(), *(self.get_output_mapping().values() if self.inplace else ())]
            for path in built:
                if os.path.exists(path):
                    os.remove(path)
            _pure(f"compiling the mypyc extensions failed ({type(e).__name__}: {e})")
            return
        _record(NATIVE["source_digests"](PACKAGE_DIR))


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": BuildExt})
