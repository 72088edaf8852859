"""``tianlan assess water``: GB 3838-2002 class of every sample in a CSV file.

Mounted by the lead under ``tianlan assess`` through :func:`register`. The computation is
:func:`tianlan.assess.water.classify_sample`; this module only reads and writes files.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import typer

from tianlan.errors import InputError
from tianlan.model.timeutil import parse_user_time

from .water import STANDARD, SampleClass, Waterbody, WaterClass, classify_sample, parse_waterbody, resolve_parameter

__all__ = ["HELP", "assess_water_file", "register"]

HELP = """水质类别（GB 3838-2002 单因子评价）/ water class of each sample (GB 3838-2002).

\b
输入 / input: UTF-8 CSV (BOM allowed), one sample per row:
  section,time,<items…>[,target_class][,type]
  section       断面 / section code or name (required)
  time          时间 / ISO 8601, Beijing time unless zoned (optional)
  <item>        项目列：名称或 HJ 212 编码 / an item by name or code:
                pH w01001, DO w01009, CODMn w01019, COD w01018,
                BOD5 w01017, NH3-N w21003, TP w21011, TN w21001,
                Cu w20122, Zn w20123, F w21017, Se w20128, As w20119,
                Hg w20111, Cd w20115, Cr6+ w20117, Pb w20120,
                CN w21016, VPhenol w23002, Oil w22001, LAS w19002,
                S2- w21019, FC w02003, WT w01010 (not graded);
                TP_lake / TP_river fix the TP column
  单位 / units  mg/L as in GB 3838 Table 1 (pH none, FC count/L);
                a header like "Hg(ug/L)" converts from µg/L, the
                HJ 212 default for Hg, Cd, Cr6+, As and Pb
  空值 / empty  未测 / not measured
  target_class  目标类别 / target class I–V (optional)
  type          river | lake (湖库 TP limits); empty: river, or
                lake with --lake

\b
输出 / output: the input columns, then
  class         断面类别 / I … V, 劣V (worst assessed item)
  qualitative   优, 良好, 轻度污染, 中度污染, 重度污染
  worst         定类项目 / items at that class, ";"-separated
  exceed_III    超III类项目(超标倍数) / items worse than III with
                (C − S_III)/S_III, e.g. "NH3-N(1.3);DO"
                (no multiple for WT, pH, DO)
  meets_target  yes | no (with a target_class column)
  class_<item>  各项目类别 / class of each item column
  standard      GB 3838-2002

\b
断面类别不含水温、总氮、粪大肠菌群（2011 评价办法），但仍分级。
The section class leaves out WT, TN and FC (2011 method); they are
still graded in their class_<item> columns.
"""


def _fmt_multiple(m: float) -> str:
    with localcontext() as ctx:
        ctx.prec = 28
        d = Decimal(repr(m)).quantize(Decimal("0.01"))  # GB/T 8170: round half to even
    s = format(d, "f").rstrip("0").rstrip(".")
    return s or "0"


def _parse_header(header: list[str], where: str) -> tuple[dict[str, int], list[tuple[int, str, str, Fraction]]]:
    """Key columns by role, and the item columns as (index, name, canonical key, unit factor)."""
    roles = {"section": "section", "断面": "section", "time": "time", "时间": "time", "target_class": "target_class",
             "target": "target_class", "目标类别": "target_class", "type": "type", "waterbody": "type", "水体": "type"}
    keys: dict[str, int] = {}
    items: list[tuple[int, str, str, Fraction]] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(header):
        col = raw.strip()
        if not col:
            raise InputError(f"第{i + 1}列 / column {i + 1}", "列名为空 / empty column name", where=where)
        role = roles.get(col.lower()) or roles.get(col)
        if role is not None:
            if role in keys:
                raise InputError(col, f"重复列 / duplicate column ({role})", where=where)
            keys[role] = i
            continue
        name, factor = _split_unit(col, where)
        try:
            item, _ = resolve_parameter(name)
        except InputError as e:
            raise InputError(col, "未知列：不是断面、时间、目标类别、水体或 GB 3838 项目 / unknown column: not section, "
                             "time, target_class, type or a GB 3838 item; " + e.reason.split("; ", 1)[-1],
                             where=where) from None
        if factor != 1 and item.unit != "mg/L":
            raise InputError(col, f"{item.key} 的单位为 {item.unit}，不能用 µg/L / unit of {item.key} is {item.unit}",
                             where=where)
        if item.key in seen:
            raise InputError(col, f"与列 {seen[item.key]!r} 同为 {item.key} / same item as column {seen[item.key]!r}",
                             where=where)
        seen[item.key] = col
        items.append((i, name, item.key, factor))
    if "section" not in keys:
        raise InputError("section", "缺少 section 列 / the section column is required", where=where)
    if not items:
        raise InputError("columns", "没有水质项目列 / no parameter columns (e.g. pH, DO, CODMn, NH3-N, TP)", where=where)
    return keys, items


_UNITS = {"mg/l": Fraction(1), "ug/l": Fraction(1, 1000), "count/l": Fraction(1), "个/l": Fraction(1)}


def _split_unit(col: str, where: str) -> tuple[str, Fraction]:
    """``Hg(ug/L)`` / ``Hg[µg/L]`` → (``Hg``, 1/1000); a bracket that is no unit (``Cr(VI)``) stays in the name."""
    for op, cl in (("[", "]"), ("(", ")"), ("（", "）")):
        if col.endswith(cl) and op in col:
            name, unit = col[: -len(cl)].rsplit(op, 1)
            u = unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")
            if u in _UNITS:
                return name.strip(), _UNITS[u]
            if op == "[" or "/" in u:
                raise InputError(col, f"不支持的单位 {unit!r} / unsupported unit; use mg/L or ug/L", where=where)
    return col, Fraction(1)


def _value(text: str, col: str, factor: Fraction, where: str) -> Fraction | None:
    s = text.strip()
    if s == "":
        return None
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise InputError(col, f"不是数字 / not a number: {text!r}", where=where) from None
    if not d.is_finite():
        raise InputError(col, f"不是有限数字 / not a finite number: {text!r}", where=where)
    return Fraction(d) * factor


def assess_water_file(
    text: str, *, lake: bool = False, name: str = "input"
) -> tuple[list[str], list[list[str]], list[SampleClass]]:
    """Header, output rows and results for a CSV text in the ``tianlan assess water`` format."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("--input", "文件为空 / the file is empty", where=name) from None
    except csv.Error as e:
        raise InputError("--input", f"CSV 格式错误 / malformed CSV: {e}", where=f"{name} 第1行 / row 1") from None
    keys, items = _parse_header(header, f"{name} 第1行 / row 1")
    default_wb: Waterbody = "lake" if lake else "river"
    out_header = [h.strip() for h in header] + ["class", "qualitative", "worst", "exceed_III"]
    if "target_class" in keys:
        out_header.append("meets_target")
    out_header += [f"class_{key}" for _, _, key, _ in items] + ["standard"]
    rows: list[list[str]] = []
    results: list[SampleClass] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise InputError("--input", f"CSV 格式错误 / malformed CSV: {e}", where=f"{name} 第{reader.line_num}行") from None
        line = reader.line_num
        where = f"{name} 第{line}行 / row {line}"
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError("columns", f"有 {len(row)} 列，表头有 {len(header)} 列 / has {len(row)} fields, the header "
                             f"{len(header)}", where=where)
        if not row[keys["section"]].strip():
            raise InputError("section", "断面为空 / empty section", where=where)
        if "time" in keys and row[keys["time"]].strip():
            parse_user_time(row[keys["time"]], field=header[keys["time"]].strip() + f" ({where})")
        target = None
        if "target_class" in keys and row[keys["target_class"]].strip():
            try:
                target = WaterClass.parse(row[keys["target_class"]], allow_worse=False)
            except InputError as e:
                raise InputError(header[keys["target_class"]].strip(), e.reason, where=where) from None
        wb = default_wb
        if "type" in keys and row[keys["type"]].strip():
            try:
                wb = parse_waterbody(row[keys["type"]])
            except InputError as e:
                raise InputError(header[keys["type"]].strip(), e.reason, where=where) from None
        values = {nm: _value(row[i], header[i].strip(), f, where) for i, nm, _, f in items}
        try:
            r = classify_sample(values, waterbody=wb, target_class=target)
        except InputError as e:
            col = next((header[i].strip() for i, nm, _, _ in items if nm == e.field), e.field)
            raise InputError(col, e.reason, where=where) from None
        results.append(r)
        exceed = ";".join(x.parameter if x.multiple is None else f"{x.parameter}({_fmt_multiple(x.multiple)})"
                          for x in r.exceedances)
        out = [c for c in row] + [r.label, r.qualitative, ";".join(r.worst), exceed]
        if "target_class" in keys:
            out.append("" if r.meets_target is None else ("yes" if r.meets_target else "no"))
        by_key = {p.parameter: p for p in r.parameters}
        out += [by_key[key].label if key in by_key else "" for _, _, key, _ in items] + [STANDARD]
        rows.append(out)
    return out_header, rows, results


def water(
    input: Annotated[Path, typer.Option("--input", "-i", help="输入 CSV / input CSV (format above)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出 CSV / output CSV (default stdout)")] = None,
    lake: Annotated[bool, typer.Option("--lake", help="无 type 时按湖库评价 / rows without a type are lakes/reservoirs")] = False,
) -> None:
    try:
        try:
            text = input.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError("--input", f"文件不存在 / file not found: {input}") from None
        except UnicodeDecodeError:
            raise InputError("--input", f"须为 UTF-8 编码 / must be UTF-8 encoded: {input}") from None
        except OSError as e:
            raise InputError("--input", f"无法读取 / cannot read {input}: {e.strerror}") from None
        header, rows, results = assess_water_file(text, lake=lake, name=input.name)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        if output is None:
            sys.stdout.write(buf.getvalue())
            return
        try:
            output.write_text(buf.getvalue(), encoding="utf-8")
        except OSError as e:
            raise InputError("--output", f"无法写入 / cannot write {output}: {e.strerror}") from None
    except InputError as e:
        typer.echo(f"错误 / error: {e}", err=True)
        raise typer.Exit(2) from None
    counts = Counter(r.label or "—" for r in results)
    order = ["I", "II", "III", "IV", "V", "劣V", "—"]
    summary = ", ".join(f"{k} {counts[k]}" for k in order if counts[k])
    typer.echo(f"{len(results)} 个样品 / samples → {output} ({summary})")


water.__doc__ = HELP


def register(app: typer.Typer) -> None:
    """Add ``water`` (``tianlan assess water --input F.csv [--output O.csv] [--lake]``) to ``app``."""
    app.command("water", help=HELP, no_args_is_help=True)(water)
