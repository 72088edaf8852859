"""Replay the real Hebei 2019 hourly air-quality data as HJ 212 hour uploads (CN 2061).

Input: ``cnemc-hebei-2019`` in the shared data directory (``../shared/data`` next to the repository,
or ``$TIANLAN_SHARED_DIR/data``): ``stations.csv`` and ``2019-MM.csv.gz`` with one row per
station-hour, columns ``date`` (YYYYMMDD, Beijing time), ``hour`` (0–23), ``station``, ``PM2.5``,
``PM10``, ``SO2``, ``NO2``, ``O3``, ``CO``, …; µg/m³, CO in mg/m³; empty = not published.

Output: one 2061 frame per station-hour with at least one value, ``-Avg`` and ``-Flag=N`` per
published factor (an empty cell omits that factor), values copied as the CSV text — no rounding, no
unit change (the platform must configure these devices' PM/SO2/NO2/O3 as µg/m³; reference §4.7).
Codes: PM2.5 a34004, PM10 a34002, SO2 a21026, NO2 a21004, O3 a05024, CO a21005.

Period semantics: the CNEMC real-time release publishes at hour ``h`` the mean of the hour that
ENDS at ``h`` (e.g. the 08 h value covers 07:00–08:00). HJ 212 DataTime of hour data is the START of
the hour (HJ 212-2017 Table 4, reference §3.8), so the frame for ``date``/``hour`` = h carries
``DataTime`` = date h:00 − 1 h, Beijing time; hour 0 of a day becomes 23:00 of the previous day.

One device per station: MN ``"HB"`` + station code left-padded with zeros to 24 characters (e.g.
``HB000000000000000001029A``, see :func:`station_mn`), a password derived from the code
(:func:`station_password`), ST=22, HJ 212-2017, standard CRC. :func:`replay_registry` describes the
stations and devices in the platform's registry format; :func:`register_replay_stations` registers
them in a store (``tianlan simulate replay --register``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tianlan.errors import InputError
from tianlan.hj212 import CrcVariant
from tianlan.model.hebei import hebei_regions
from tianlan.model.registry import Device, Registry, Site
from tianlan.sim.device import CN_HOUR, SimDevice

if TYPE_CHECKING:
    from sqlalchemy import Engine

DATASET = "cnemc-hebei-2019"
#: CSV column → HJ 212 factor code (HJ 524 / reference §4.7 air table).
COLUMNS: dict[str, str] = {
    "PM2.5": "a34004",
    "PM10": "a34002",
    "SO2": "a21026",
    "NO2": "a21004",
    "O3": "a05024",
    "CO": "a21005",
}
UNITS: dict[str, str] = {"a34004": "µg/m³", "a34002": "µg/m³", "a21026": "µg/m³", "a21004": "µg/m³",
                         "a05024": "µg/m³", "a21005": "mg/m³"}


def data_dir() -> Path:
    """Directory of the Hebei 2019 data: ``$TIANLAN_SHARED_DIR/data/cnemc-hebei-2019`` if the
    variable is set, else ``<repository>/../shared/data/cnemc-hebei-2019``."""
    env = os.environ.get("TIANLAN_SHARED_DIR")
    shared = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"
    return shared / "data" / DATASET


def station_mn(code: str) -> str:
    """Deterministic MN of the replay device of station ``code``: "HB" + code padded to 24 chars."""
    return "HB" + code.strip().rjust(22, "0")


def station_password(code: str) -> str:
    """Deterministic 6-character password (PW, HJ 212-2017 Table 3 C6) of station ``code``."""
    return hashlib.sha256(f"tianlan-replay:{DATASET}:{code.strip()}".encode()).hexdigest()[:6]


def read_stations(directory: Path | None = None) -> pl.DataFrame:
    """``stations.csv`` as strings: code, name, city, lon, lat, control_site, province, prefecture."""
    return pl.read_csv((directory or data_dir()) / "stations.csv", infer_schema=False)


def read_month(month: str, directory: Path | None = None) -> pl.DataFrame:
    """One month (``"2019-01"``) of station-hours, every column as the CSV text (empty = null)."""
    path = (directory or data_dir()) / f"{month}.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"months: 没有该月的数据文件 / no data file for {month!r}: {path}")
    return pl.read_csv(path, infer_schema=False)


def hour_frames_table(months: Iterable[str], stations: Iterable[str] | None = None,
                      directory: Path | None = None) -> pl.DataFrame:
    """Station-hours to replay, in time then station order, with the HJ 212 DataTime column.

    Columns: ``station``, ``data_time`` (``YYYYMMDDhhmmss``, Beijing time, start of the hour =
    published hour − 1 h) and one column per factor code (CSV text or null). Rows without any value
    are dropped.
    """
    frames = [read_month(m, directory) for m in months]
    if not frames:
        return pl.DataFrame()
    df = pl.concat(frames, how="diagonal_relaxed")
    if stations is not None:
        wanted = [s.strip() for s in stations]
        df = df.filter(pl.col("station").is_in(wanted))
    start = (pl.col("date").str.strptime(pl.Datetime("us"), "%Y%m%d")
             + pl.duration(hours=pl.col("hour").cast(pl.Int64) - 1))
    present = [c for c in COLUMNS if c in df.columns]
    df = df.with_columns(
        start.alias("_start"),
        *[pl.col(c).str.strip_chars().replace("", None).alias(COLUMNS[c]) for c in present],
    )
    codes = [COLUMNS[c] for c in present]
    df = df.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in codes]))
    return (df.sort(["_start", "station"])
              .select("station", pl.col("_start").dt.strftime("%Y%m%d%H%M%S").alias("data_time"), *codes))


def _device(code: str, crc: CrcVariant) -> SimDevice:
    return SimDevice(mn=station_mn(code), pw=station_password(code), kind="air", st="22", protocol="2017",
                     crc=crc, seed=0)


def replay_frames(months: Iterable[str] = ("2019-01",), stations: Iterable[str] | None = None, *,
                  crc: CrcVariant = CrcVariant.STANDARD, directory: Path | None = None,
                  ) -> Iterator[tuple[str, bytes]]:
    """``(MN, frame bytes)`` of CN 2061 hour uploads for the given months and stations, in time order.

    ``months`` like ``["2019-01", "2019-02"]``; ``stations`` station codes (None: all in the data).
    Each frame has Flag=5 and a QN of its own (device clock at build time).
    """
    table = hour_frames_table(list(months), stations, directory)
    if table.is_empty():
        return
    codes = [c for c in table.columns if c not in ("station", "data_time")]
    devices: dict[str, SimDevice] = {}
    for row in table.iter_rows():
        station, data_time = row[0], row[1]
        factors = {code: {"Avg": v, "Flag": "N"} for code, v in zip(codes, row[2:], strict=True)
                   if v is not None}
        dev = devices.get(station)
        if dev is None:
            dev = devices[station] = _device(station, crc)
        for upload in dev.build(CN_HOUR, data_time, factors):
            yield dev.mn, upload.frame


def hebei_city_codes() -> dict[str, str]:
    """City name → region code of Hebei's city-level regions (``hebei_regions``), by full name
    (石家庄市, 雄安新区) and without the 市 suffix (石家庄), as the ``city`` column writes it."""
    out: dict[str, str] = {}
    for r in hebei_regions():
        if r.level == "city":
            out[r.name] = r.code
            out.setdefault(r.name.removesuffix("市"), r.code)
    return out


def _coord(value: Any) -> float | None:
    text = (value or "").strip() if isinstance(value, str) else value
    return float(text) if text not in (None, "") else None


def replay_registry(stations: Iterable[str] | None = None, months: Iterable[str] | None = None, *,
                    directory: Path | None = None) -> Registry:
    """The replay stations as a registry: one air site and one device per station.

    Site: code = station code (``1029A``), name = station name, region = the station's prefecture
    city (``city`` column mapped to the Hebei city region code, e.g. 石家庄 → 130100), real lon/lat,
    control_level national (these are the national stations), background = ``control_site == "Y"``.
    Device: :func:`station_mn`, :func:`station_password`, air, ST 22, HJ 212-2017, standard CRC, the six
    factor codes of :data:`COLUMNS`. Regions are not included (every store is seeded with Hebei's).

    ``stations`` limits to these codes; ``months`` (if given) keeps only stations with data in them.
    Raises InputError for a station whose city is not a Hebei city.
    """
    st = read_stations(directory)
    if stations is not None:
        st = st.filter(pl.col("code").is_in([s.strip() for s in stations]))
    if months is not None:
        seen: set[str] = set()
        for m in months:
            seen.update(read_month(m, directory)["station"].unique().to_list())
        st = st.filter(pl.col("code").is_in(sorted(seen)))
    cities = hebei_city_codes()
    sites: list[Site] = []
    devices: list[Device] = []
    for r in st.iter_rows(named=True):
        code = r["code"].strip()
        where = f"stations.csv {code}"
        city = (r.get("city") or "").strip()
        region = cities.get(city) or cities.get((r.get("prefecture") or "").strip())
        if region is None:
            raise InputError("city", f"不是河北的地级市 / not a Hebei city: {city!r}", where=where)
        try:
            sites.append(Site(code=code, name=(r.get("name") or code).strip(), kind="air", region=region,
                              lon=_coord(r.get("lon")), lat=_coord(r.get("lat")), control_level="national",
                              background=(r.get("control_site") or "").strip() == "Y"))
        except InputError as e:
            raise InputError(e.field, e.reason, where=where) from None
        devices.append(Device(mn=station_mn(code), password=station_password(code), kind="air", st="22",
                              protocol="2017", crc="standard", site=code, parameters=list(COLUMNS.values())))
    return Registry(sites=sites, devices=devices)


def register_replay_stations(engine: Engine, stations: Iterable[str] | None = None, *,
                             directory: Path | None = None) -> int:
    """Register the replay stations (sites and devices, :func:`replay_registry`) in the store at
    ``engine``, updating those already there; returns the number of devices registered.

    ``stations``: station codes (None: every station of ``stations.csv``). Seeds the default regions
    and parameters first if the store lacks them. All or nothing (one transaction).
    """
    from tianlan.store.registry_repo import RegistryRepo

    repo = RegistryRepo(engine)
    repo.seed_defaults()
    reg = replay_registry(list(stations) if stations is not None else None, directory=directory)
    return repo.import_registry(reg)["devices"]
