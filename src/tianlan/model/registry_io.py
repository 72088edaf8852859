"""Reading and writing the registry as YAML or CSV, losslessly.

YAML: one file with top-level keys ``regions``, ``enterprises``, ``sites``, ``devices``,
``parameters``, each a list of mappings with the field names of the types in
:mod:`tianlan.model.registry`; ``region``, ``site``, ``enterprise`` and ``parent`` hold codes. Fields
at their default value are left out when writing.

CSV: a directory with ``regions.csv``, ``enterprises.csv``, ``sites.csv``, ``devices.csv`` and
``parameters.csv`` (UTF-8, a header row of field names; a BOM is accepted on reading). An empty cell
means "not given" (None, or the field's default); booleans are ``true``/``false``; a device's
``parameters`` are ``;``-separated in one cell; a site's ``attrs`` is a JSON object.

Every error names the file, the row (CSV, counting the header as row 1) or index (YAML), the field
and the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml

from tianlan.errors import InputError
from tianlan.model.registry import ITEM_TYPES, SECTIONS, Registry

# How each field is written in a file. str: text; opt: text or None; bool; float (or None);
# list: list of codes; json: a mapping.
_KINDS: dict[str, dict[str, str]] = {
    "regions": {"code": "str", "name": "str", "name_en": "str", "level": "str", "parent": "opt"},
    "enterprises": {"code": "str", "name": "str", "region": "str", "industry": "str", "key_polluter": "bool"},
    "sites": {
        "code": "str", "name": "str", "kind": "str", "region": "str", "lon": "float", "lat": "float",
        "control_level": "opt", "background": "bool", "section_type": "opt", "target_class": "opt",
        "enterprise": "opt", "outlet_type": "opt", "attrs": "json",
    },
    "devices": {
        "mn": "str", "password": "str", "kind": "str", "st": "opt", "protocol": "str", "crc": "str",
        "site": "opt", "parameters": "list", "active": "bool",
    },
    "parameters": {"code": "str", "name": "str", "name_en": "str", "unit": "str", "system": "str",
                   "code_2005": "opt"},
}
_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否"}
FORMATS = ("yaml", "csv")


# Fields a file may leave out although the type requires them.
_FILE_DEFAULTS: dict[str, dict[str, Any]] = {"regions": {"name_en": ""}}


def _defaults(section: str) -> dict[str, Any]:
    out: dict[str, Any] = dict(_FILE_DEFAULTS.get(section, {}))
    for f in dataclasses.fields(ITEM_TYPES[section]):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _coerce(kind: str, name: str, value: Any) -> Any:
    """A file value as the type the field wants; raises InputError(name) when it cannot be."""
    if kind in ("str", "opt"):
        if value is None or (kind == "opt" and value == ""):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InputError(name, f"应为文本 / must be text, got {value!r}")
        # YAML reads an unquoted 130100 or 2017 as a number; the field is a code.
        return str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise InputError(name, f"应为 true/false / must be true or false, got {value!r}")
    if kind == "float":
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise InputError(name, f"应为数字 / must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(name, f"应为数字 / must be a number, got {value!r}") from None
    if kind == "list":
        if value is None:
            return []
        if isinstance(value, str):
            return [p.strip() for p in re.split(r"[;,]", value) if p.strip()]
        if isinstance(value, list):
            return [_coerce("str", name, v) for v in value]
        raise InputError(name, f"应为列表 / must be a list, got {value!r}")
    if kind == "json":
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as e:
                raise InputError(name, f"不是有效的 JSON / not valid JSON: {e}") from None
        if not isinstance(value, dict):
            raise InputError(name, f"应为 JSON 对象 / must be a JSON object, got {value!r}")
        return value
    raise AssertionError(kind)


def item_from_mapping(section: str, mapping: Mapping[str, Any], *, where: str | None = None) -> Any:
    """Build one registry item of ``section`` from a mapping of field name → file value."""
    kinds = _KINDS[section]
    defaults = _defaults(section)
    try:
        for key in mapping:
            if key not in kinds:
                raise InputError(str(key), f"未知字段 / unknown field; 可用 / known: {', '.join(kinds)}")
        values: dict[str, Any] = {}
        for name, kind in kinds.items():
            v = mapping.get(name)
            if v is None or (isinstance(v, str) and v == "" and name in defaults):
                if name not in defaults:
                    raise InputError(name, "缺少必填字段 / required field is missing")
                values[name] = defaults[name]
                continue
            values[name] = _coerce(kind, name, v)
        return ITEM_TYPES[section](**values)
    except InputError as e:
        raise InputError(e.field, e.reason, where=where) from None


def item_to_mapping(section: str, item: Any, *, keep_defaults: bool = False) -> dict[str, Any]:
    """The mapping of one item, fields in declaration order.

    Unless ``keep_defaults``, fields whose value is an empty default (None, '', false, [], {}) are left
    out; defaults that say something (level, protocol, crc, active …) are always written.
    """
    defaults = _defaults(section)
    out: dict[str, Any] = {}
    for name in _KINDS[section]:
        v = getattr(item, name)
        if not keep_defaults and name in defaults and v == defaults[name] and not defaults[name]:
            continue
        out[name] = list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v)
    return out


def _to_cell(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return repr(float(value))
    if kind == "list":
        return ";".join(value)
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=False) if value else ""
    return str(value)


# --- reading -------------------------------------------------------------------------------------

def _read_yaml(path: Path) -> tuple[Registry, dict[str, list[str]]]:
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as e:
        raise InputError("yaml", f"无法解析 / cannot parse: {e}", where=str(path)) from None
    except UnicodeDecodeError as e:
        raise InputError("encoding", f"须为 UTF-8 / must be UTF-8: {e}", where=str(path)) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError("yaml", "顶层须为映射 / top level must be a mapping of sections", where=str(path))
    sections: dict[str, list[Any]] = {}
    where: dict[str, list[str]] = {}
    for key, items in doc.items():
        if key not in SECTIONS:
            raise InputError(str(key), f"未知部分 / unknown section; 可用 / known: {', '.join(SECTIONS)}",
                             where=str(path))
        if items is None:
            items = []
        if not isinstance(items, list):
            raise InputError(key, "须为列表 / must be a list of mappings", where=str(path))
        sections[key], where[key] = [], []
        for i, m in enumerate(items):
            loc = f"{path}: {key}[{i}]"
            if not isinstance(m, dict):
                raise InputError(key, f"条目须为映射 / each item must be a mapping, got {m!r}", where=loc)
            sections[key].append(item_from_mapping(key, m, where=loc))
            where[key].append(loc)
    return Registry(**sections), where


def _read_csv(path: Path, section: str) -> tuple[list[Any], list[str]]:
    kinds = _KINDS[section]
    items: list[Any] = []
    where: list[str] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            for col in header:
                if col not in kinds:
                    raise InputError(col, f"未知列 / unknown column; 可用 / known: {', '.join(kinds)}",
                                     where=f"{path} row 1")
            for row_no, row in enumerate(reader, start=2):
                loc = f"{path} row {row_no}"
                if None in row:
                    raise InputError(str(header[-1]) if header else "row",
                                     "多余的单元格 / more cells than columns", where=loc)
                if not any((v or "").strip() for v in row.values()):
                    continue  # blank line
                items.append(item_from_mapping(section, {k: v for k, v in row.items() if k}, where=loc))
                where.append(loc)
    except UnicodeDecodeError as e:
        raise InputError("encoding", f"须为 UTF-8 / must be UTF-8: {e}", where=str(path)) from None
    except csv.Error as e:
        raise InputError("csv", f"无法解析 / cannot parse: {e}", where=str(path)) from None
    return items, where


def read_registry(path: str | Path, *, known: Registry | None = None) -> Registry:
    """The registry in ``path``: a ``.yaml``/``.yml`` file, a directory of CSV files, or one CSV file.

    One CSV file (``devices.csv`` …) holds the section its name says. References must resolve within
    the file(s) or in ``known`` (what the store already holds). Raises InputError naming the file,
    row or index, field and reason.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("path", "不存在 / does not exist", where=str(p))
    where: dict[str, list[str]] = {}
    if p.is_dir():
        sections: dict[str, list[Any]] = {}
        found = False
        for s in SECTIONS:
            f = p / f"{s}.csv"
            if f.exists():
                found = True
                sections[s], where[s] = _read_csv(f, s)
        if not found:
            raise InputError("path", f"目录中没有登记文件 / no registry CSV files ({', '.join(SECTIONS)}.csv)",
                             where=str(p))
        reg = Registry(**sections)
    elif p.suffix.lower() in (".yaml", ".yml"):
        reg, where = _read_yaml(p)
    elif p.suffix.lower() == ".csv":
        if p.stem not in SECTIONS:
            raise InputError("path", f"文件名须为 / file name must be one of {', '.join(SECTIONS)}.csv",
                             where=str(p))
        items, where[p.stem] = _read_csv(p, p.stem)
        reg = Registry(**{p.stem: items})
    else:
        raise InputError("path", "须为 .yaml/.yml 文件或 CSV 目录 / must be a .yaml/.yml file or a CSV "
                         "directory", where=str(p))
    reg.validate(known, locate=lambda s, i: where[s][i])
    return reg


# --- writing -------------------------------------------------------------------------------------

def registry_format(path: str | Path, fmt: str | None = None) -> str:
    """``fmt`` checked, or guessed from ``path``: yaml for .yaml/.yml, csv otherwise."""
    if fmt is None:
        return "yaml" if Path(path).suffix.lower() in (".yaml", ".yml") else "csv"
    if fmt not in FORMATS:
        raise InputError("format", f"未知格式 / unknown format {fmt!r}; 应为 / expected: yaml | csv")
    return fmt


def write_registry(reg: Registry, path: str | Path, fmt: str | None = None) -> list[Path]:
    """Write ``reg`` to ``path`` (a YAML file, or a directory for CSV); returns the files written."""
    p = Path(path)
    if registry_format(p, fmt) == "yaml":
        doc = {s: [item_to_mapping(s, x) for x in reg.section(s)] for s in SECTIONS}
        p.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
        p.write_text("# Tianlan network registry / 天蓝监测网络登记\n" + text, encoding="utf-8")
        return [p]
    p.mkdir(parents=True, exist_ok=True)
    written = []
    for s in SECTIONS:
        f = p / f"{s}.csv"
        with f.open("w", encoding="utf-8", newline="") as out:
            write_csv_section(s, reg.section(s), out)
        written.append(f)
    return written


def write_csv_section(section: str, items: Iterable[Any], out: TextIO) -> None:
    """Write ``items`` of ``section`` as CSV (header row, then one row per item) to ``out``."""
    kinds = _KINDS[section]
    w = csv.writer(out)
    w.writerow(kinds)
    for item in items:
        w.writerow([_to_cell(k, getattr(item, name)) for name, k in kinds.items()])
