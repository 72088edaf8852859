"""tianlan.qc — quality control and fraud detection.

* :mod:`tianlan.qc.core` — the detector contract (Series, Context, Finding, ``@detector``, registry);
* ``checks/`` and ``fraud/`` — the detector families (catalogue of ``reference/qc_fraud.md`` §F);
* :mod:`tianlan.qc.config` — YAML configuration with scopes, the built-in default, the config hash;
* :mod:`tianlan.qc.inputs` — series and contexts from files or the store;
* :mod:`tianlan.qc.runner` — batch runner; :mod:`tianlan.qc.stream` — streaming QC on ingest
  (:mod:`~tianlan.qc.stream_policy`: what streams, how often; :mod:`~tianlan.qc.stream_history`: the
  in-memory history it checks);
* :mod:`tianlan.qc.commands` — ``tianlan qc scan`` and ``tianlan qc detectors``.

Only the pure parts are imported here; ``inputs``, ``stream`` and ``commands`` are imported from
their modules (they reach the store or the CLI).
"""

from tianlan.qc.config import QcConfig, config_hash, default_config, load_config, parse_config
from tianlan.qc.core import (
    REGISTRY,
    Context,
    DetectorSpec,
    Finding,
    Mark,
    Param,
    QcResult,
    Series,
    Status,
    detector,
    get,
    load_all,
    to_results,
)
from tianlan.qc.runner import run_batch

__all__ = [
    "REGISTRY", "Context", "DetectorSpec", "Finding", "Mark", "Param", "QcConfig", "QcResult", "Series", "Status",
    "config_hash", "default_config", "detector", "get", "load_all", "load_config", "parse_config", "run_batch",
    "to_results",
]
