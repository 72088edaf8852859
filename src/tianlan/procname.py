"""Names for the platform's child processes, as ``ps``, ``top`` and ``/proc/PID/comm`` show them.

``tianlan serve`` runs the store writer and the ledger sealer as spawned children, which would all
show as ``python``; an operator watching CPU (and ``benchmarks/ingest.py`` counting it per role)
tells them apart by these names. Written by hand: Linux ``prctl(PR_SET_NAME)`` is one libc call
through ctypes, not worth a compiled dependency (setproctitle) for the short name alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_NAME = 15  # <linux/prctl.h>
WRITER = "tianlan-writer"
LEDGER = "tianlan-ledger"


def set_process_name(name: str) -> bool:
    """Set this process's name (Linux: at most 15 bytes are kept); False where it cannot be set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
