"""A live platform for the browser tests: the demo network fed by the simulator over HJ 212/TCP, then
the assessment job and a QC scan of the store raising alarms — the same path as production.

February 2019 (Beijing time) of hour data from every simulated device (28 days, so that monthly
statistics and the city ranking are valid under HJ 663), assessed by ``run_assessment``; alarms
from ``run_batch`` over the stored observations through ``AlarmService.raise_results``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from platform_helpers import Platform, start_platform
from sqlalchemy import Engine

from tianlan.store.assess_repo import beijing_month_bounds

MONTH = (2019, 2)
T0, T1 = beijing_month_bounds(*MONTH)
HOURS = (T1 - T0) // 3600
PASSWORD = "browser-test password 天蓝"


@dataclass
class Live:
    engine: Engine
    platform: Platform
    base: str
    users: dict[str, str] = field(default_factory=dict)  # role → username
    city: str = ""  # the city user's region
    enterprise: str = ""


def populate(engine: Engine, tmp: Path) -> tuple[Platform, object]:
    from tianlan.assess_job import run_assessment
    from tianlan.model.demo_network import demo_network
    from tianlan.sim.registry import sim_devices_for
    from tianlan.sim.runner import run_simulation
    from tianlan.store.registry_repo import RegistryRepo

    repo = RegistryRepo(engine)
    repo.seed_defaults()
    repo.import_registry(demo_network())
    platform, thread = start_platform(engine, tmp, assess_interval_s=0, idle_timeout_s=60.0)
    devices = sim_devices_for(repo.load())
    stats = asyncio.run(run_simulation("127.0.0.1", platform.hj212_port, devices, rate_per_device=None,
                                       total_frames=HOURS * len(devices), start_utc=T0, step_s=3600,
                                       drain_timeout_s=120.0, record_frames=False))
    assert stats.unacked == 0 and stats.acked == HOURS * len(devices), stats
    run_assessment(engine)
    raise_alarms(engine)
    return platform, thread


def raise_alarms(engine: Engine) -> int:
    from tianlan.alarms.service import AlarmService
    from tianlan.qc.config import default_config
    from tianlan.qc.inputs import load_store
    from tianlan.qc.runner import run_batch
    from tianlan.store.qc_repo import QcRepo

    ds = load_store(engine, T0, T1)
    cfg = default_config()
    results = run_batch(ds.series, ds.contexts, cfg, workers=1)
    QcRepo(engine).replace(results, config_hash=cfg.hash, stations=list(ds.series), start_utc=ds.start_utc,
                           end_utc=ds.end_utc)
    return len(AlarmService(engine).raise_results(results).raised)
