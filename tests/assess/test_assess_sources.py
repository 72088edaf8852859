"""Outlet exceedances and water classes computed on the store by ``tianlan assess run``."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from tianlan.cli import app
from tianlan.hj212 import FrameReader, build_frame
from tianlan.ingest.processor import DeviceAuth, process_frame
from tianlan.model.registry import Device, Enterprise, Registry, Site
from tianlan.store.assess_repo import AssessRepo
from tianlan.store.frame_writer import BatchStore, to_record
from tianlan.store.registry_repo import RegistryRepo


def _frames(mn: str, st: str, cn: str, rows: list[tuple[str, dict[str, tuple[str, str]]]]) -> list[bytes]:
    out = []
    for i, (dt, factors) in enumerate(rows):
        cp = ";".join(f"{k}-Avg={v},{k}-Flag={f}" for k, (v, f) in factors.items())
        out.append(build_frame(f"QN=20190101{i:09d};ST={st};CN={cn};PW=123456;MN={mn};Flag=5;CP=&&DataTime={dt};{cp}&&"))
    return out


def _ingest(engine, frames: list[bytes]) -> None:
    auth = {r.mn: DeviceAuth(r.id, r.mn, "123456", frozenset({"standard"})) for r in RegistryRepo(engine).device_rows()}
    recs = []
    for f in frames:
        (raw,) = FrameReader().feed(f)
        it = process_frame(raw, auth.get, received_utc=time.time(), peer="t")
        assert it.status == "accepted", it.detail
        recs.append(to_record(it))
    bs = BatchStore(engine)
    bs.write(recs)
    bs.close()


def test_outlet_exceedance_and_water_class_on_store(store) -> None:
    reg = Registry(
        regions=[], parameters=[],
        enterprises=[Enterprise(code="E1", name="示例电厂", region="130100")],
        sites=[
            Site(code="OUT1", name="1号烟囱", kind="source", region="130100", enterprise="E1", outlet_type="gas",
                 attrs={"limits": {"a21026": 35}, "o2_ref": 6, "standard": "超低排放 ultra-low"}),
            Site(code="SEC1", name="示例断面", kind="water", region="130100", section_type="key", target_class="III"),
        ],
        devices=[Device(mn="GAS1", password="123456", kind="source", site="OUT1"),
                 Device(mn="WAT1", password="123456", kind="water", site="SEC1")],
    )
    RegistryRepo(store).import_registry(reg)
    # 3 hours of 10-minute SO2 at 6 % O2 (Beijing 2019-01-01 08:00-11:00): hour 1 fine, hour 2 exceeds,
    # hour 3 exceeds too but the analyser was in maintenance (M) for most of it -> excluded, with the reason
    rows = []
    for h, (so2, flag) in enumerate([("20", "N"), ("50", "N"), ("80", "M")]):
        for m in range(0, 60, 10):
            rows.append((f"20190101{8 + h:02d}{m:02d}00", {"a21026": (so2, flag), "a19001": ("6.0", "N")}))
    frames = _frames("GAS1", "31", "2051", rows)
    # water: NH3-N 1.8 mg/L (class V) in one sample, DO fine
    frames += _frames("WAT1", "21", "2061", [("20190101080000", {"w21003": ("1.8", "N"), "w01009": ("7.0", "N"),
                                                                   "w01001": ("7.5", "N")})])
    _ingest(store, frames)
    url = store.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["assess", "run", "--database-url", url])
    assert r.exit_code == 0, r.output
    repo = AssessRepo(store)
    (month,) = repo.results("outlet_month", subject="OUT1")
    ex = month["result"]["exceedances"]
    assert [(e["pollutant"], e["value"]) for e in ex] == [("a21026", 50.0)]
    assert ex[0]["hour_utc"] == 1546300800 + 3600  # 09:00 Beijing
    assert any(x["source"] == "device_flag" and "M" in x["reason"] for x in month["result"]["exclusions"])
    assert month["edition"] == "超低排放 ultra-low"
    hours = repo.results("outlet_hour", subject="OUT1")
    assert [h["primary_pollutants"] for h in hours] == [None, "a21026", None]  # the pollutants exceeding
    assert hours[2]["result"]["flags"]["a21026"] == "M"
    (sample,) = repo.results("water_sample", subject="SEC1")
    assert sample["level"] == "V" and sample["result"]["meets_target"] is False
    assert sample["primary_pollutants"] == "NH3-N"
