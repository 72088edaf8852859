"""HJ 212 code tables as data: systems (ST), commands (CN), data flags, CP names, factor codes.

Sources: HJ 212-2017 §6.6 (Tables 5-9) and Appendix B; HJ/T 212-2005 §6.5 and Appendix B; what is
known of HJ 212-2025 (reference §9, uncertain). Names are Chinese first, then English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AIR_FLAGS_2005",
    "CN_TABLE",
    "CN_TABLE_2005",
    "CN_TABLE_2025",
    "CODE_2005_TO_2017",
    "CP_FIELD_NAMES",
    "DATA_FLAGS_2005",
    "DATA_FLAGS_2017",
    "FACTOR_SUFFIXES",
    "INTERACTION_ST",
    "NOISE_CODES",
    "PARAMETERS",
    "ST_NAMES",
    "ST_NAMES_2005",
    "UPLOAD_CNS",
    "Command",
    "DataFlag",
    "Parameter",
    "System",
    "command",
    "data_flag",
    "normalise_code",
    "parameter",
]

# -- ST: system codes (HJ 212-2017 §6.6.1 Table 5) -------------------------------------------------

INTERACTION_ST = "91"
"""ST of the interaction answers 9011-9014 (HJ 212-2017 Table 5)."""

ST_NAMES: Mapping[str, tuple[str, str]] = {
    "21": ("地表水质量监测", "surface-water quality monitoring"),
    "22": ("空气质量监测", "ambient air quality monitoring"),
    "23": ("声环境质量监测", "acoustic-environment quality monitoring"),
    "24": ("地下水质量监测", "groundwater quality monitoring"),
    "25": ("土壤质量监测", "soil quality monitoring"),
    "26": ("海水质量监测", "sea-water quality monitoring"),
    "27": ("挥发性有机物监测", "volatile organic compounds monitoring"),
    "31": ("大气环境污染源", "air pollution source (flue gas)"),
    "32": ("地表水体环境污染源", "surface-water pollution source (wastewater)"),
    "33": ("地下水体环境污染源", "groundwater pollution source"),
    "34": ("海洋环境污染源", "marine pollution source"),
    "35": ("土壤环境污染源", "soil pollution source"),
    "36": ("声环境污染源", "noise pollution source"),
    "37": ("振动环境污染源", "vibration pollution source"),
    "38": ("放射性环境污染源", "radioactive pollution source"),
    "39": ("工地扬尘污染源", "construction-site dust source"),
    "41": ("电磁环境污染源", "electromagnetic pollution source"),
    "51": ("烟气排放过程监控", "flue-gas emission process monitoring"),
    "52": ("污水排放过程监控", "wastewater discharge process monitoring"),
    "91": ("系统交互", "system interaction"),
}
"""ST → (Chinese, English), HJ 212-2017 Table 5. Ranges: 10-29 environmental quality, 30-49 pollution
sources, 50-69 process monitoring, 91-99 interaction; anything else (e.g. ``101`` seen in the field)
must still be accepted on input."""

ST_NAMES_2005: Mapping[str, tuple[str, str]] = {
    "21": ("地表水监测", "surface-water monitoring"),
    "23": ("区域环境噪声监测", "regional environmental noise monitoring"),
}
"""Names that differ in HJ/T 212-2005 §6.5; other 2005 ST codes mean what `ST_NAMES` says."""


# -- CN: command codes (HJ 212-2017 §6.6.5 Table 9) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One command code. `kinds` holds ``request`` (platform → device, answered 9011 … 9012),
    ``upload`` (device → platform, answered 9014 when Flag bit A = 1), ``notice`` (answered 9013)
    and/or ``answer`` (9011-9014), HJ 212-2017 §6.5."""

    code: str
    zh: str
    en: str
    kinds: tuple[str, ...]
    note: str = ""


def _table(*rows: Command) -> dict[str, Command]:
    return {row.code: row for row in rows}


_RQ = ("request",)
_RU = ("request", "upload")
_UP = ("upload",)
_NT = ("notice",)
_AN = ("answer",)

CN_TABLE: Mapping[str, Command] = _table(
    Command("1000", "设置超时时间及重发次数", "set timeout and retry count", _RQ),
    Command("1011", "提取/上传现场机时间", "get / upload device time", _RU),
    Command("1012", "设置现场机时间", "set device time", _RQ),
    Command("1013", "现场机时间校准请求", "device asks for time calibration", _NT),
    Command("1061", "提取/上传实时数据间隔", "get / upload real-time data interval", _RU),
    Command("1062", "设置实时数据间隔", "set real-time data interval", _RQ),
    Command("1063", "提取/上传分钟数据间隔", "get / upload minute-data interval", _RU),
    Command("1064", "设置分钟数据间隔", "set minute-data interval", _RQ),
    Command("1072", "设置现场机访问密码", "set device password", _RQ),
    Command("2011", "取/上传污染物实时数据", "start / upload real-time data", _RU),
    Command("2012", "停止察看污染物实时数据", "stop real-time data", _NT),
    Command("2021", "取/上传设备运行状态数据", "start / upload treatment-facility running state", _RU),
    Command("2022", "停止察看设备运行状态", "stop running-state upload", _NT),
    Command("2031", "取/上传污染物日历史数据", "get / upload daily data", _RU),
    Command("2041", "取/上传设备运行时间日历史数据", "get / upload daily facility running time", _RU),
    Command("2051", "取/上传污染物分钟数据", "get / upload minute data", _RU),
    Command("2061", "取/上传污染物小时数据", "get / upload hour data", _RU),
    Command("2081", "上传数采仪开机时间", "upload data-logger power-on time", _UP),
    Command("3011", "零点校准量程校准", "zero / span calibration", _RQ),
    Command("3012", "即时采样", "immediate sampling", _RQ),
    Command("3013", "启动清洗/反吹", "start cleaning / blow-back", _RQ, "2005: equipment operation"),
    Command("3014", "比对采样", "comparison sampling", _RQ, "2005: set sampling period"),
    Command("3015", "超标留样/上传超标留样信息", "over-limit sample retention / upload its info", _RU),
    Command("3016", "设置采样时间周期", "set sampling period", _RQ),
    Command("3017", "提取/上传采样时间周期", "get / upload sampling period", _RU),
    Command("3018", "提取/上传出样时间", "get / upload sample output time", _RU),
    Command("3019", "提取/上传设备唯一标识", "get / upload instrument unique id", _RU),
    Command("3020", "提取/上传现场机信息", "get / upload field-device information", _RU),
    Command("3021", "设置现场机参数", "set field-device parameter", _RQ),
    Command("9011", "请求应答", "request answer", _AN),
    Command("9012", "执行结果", "execution result", _AN),
    Command("9013", "通知应答", "notice answer", _AN),
    Command("9014", "数据应答", "data answer", _AN),
)
"""HJ 212-2017 Table 9."""

CN_TABLE_2005: Mapping[str, Command] = _table(
    Command("1001", "设置超限报警时间", "set over-limit alarm time", _RQ),
    Command("1021", "提取/上传污染物报警门限值", "get / upload pollutant alarm limits", _RU),
    Command("1022", "设置污染物报警门限值", "set pollutant alarm limits", _RQ),
    Command("1031", "提取/上传上位机地址", "get / upload host address", _RU),
    Command("1032", "设置上位机地址", "set host address", _RQ),
    Command("1041", "提取/上传数据上报时间", "get / upload daily report time", _RU),
    Command("1042", "设置数据上报时间", "set daily report time", _RQ),
    Command("2071", "取/上传污染物报警记录", "get / upload pollutant alarm records", _RU),
    Command("2072", "上传报警事件", "alarm event notice", _NT),
    Command("3013", "设备操作", "equipment operation", _RQ),
    Command("3014", "设置设备采样时间周期", "set sampling period", _RQ),
)
"""HJ/T 212-2005 §6.5 codes that 2017 removed or re-used (3013/3014 mean different things)."""

CN_TABLE_2025: Mapping[str, Command] = _table(
    Command("1001", "上传数采仪硬件序列号", "upload data-logger hardware serial", _UP, "uncertain"),
    Command("1002", "设置数采仪MN", "set data-logger MN", _RQ, "uncertain"),
    Command("1014", "密钥交换", "key exchange", _RU, "uncertain"),
    Command("2013", "上传原始监测数据", "upload raw monitoring data", _UP, "uncertain"),
    Command("2052", "上传单次噪声测量数据", "upload single noise measurement", _UP, "uncertain"),
    Command("2062", "上传自动标样核查/校准数据", "upload standard-sample check / calibration data", _UP, "uncertain"),
    Command("2111", "上传炉膛温度5分钟均值", "upload furnace temperature 5-min mean", _UP, "uncertain"),
    Command("3022", "即时留样", "immediate sample retention", _RQ, "uncertain"),
    Command("3024", "启动标样核查", "start standard-sample check", _RQ, "uncertain"),
    Command("9015", "心跳", "heartbeat (answered 9013)", _NT, "uncertain"),
)
"""Additions reported for HJ 212-2025 by one implementation (reference §9) — not checked against
the text."""

UPLOAD_CNS: frozenset[str] = frozenset(
    code for table in (CN_TABLE, CN_TABLE_2005, CN_TABLE_2025) for code, row in table.items() if "upload" in row.kinds
)
"""Every CN a device may send as a data upload (answered 9014 when Flag bit A = 1), all dialects."""


def command(cn: str, dialect: str | None = None) -> Command | None:
    """Return the meaning of `cn` in `dialect` (``"2005"``, ``"2017"``, ``"2025"``; None = 2017)."""
    if dialect == "2005":
        row = CN_TABLE_2005.get(cn)
        if row is not None:
            return row
    elif dialect == "2025":
        row = CN_TABLE_2025.get(cn)
        if row is not None:
            return row
    return CN_TABLE.get(cn)


# -- data flags (HJ 212-2017 Table 8; HJ/T 212-2005 field table) -----------------------------------


@dataclass(frozen=True, slots=True)
class DataFlag:
    """One value of ``xxx-Flag``. `invalid` says whether a value so flagged must not count as a valid
    measurement (our rule, for validity statistics; the standard lists meanings only)."""

    code: str
    zh: str
    en: str
    invalid: bool
    note: str = ""


DATA_FLAGS_2017: Mapping[str, DataFlag] = {
    "N": DataFlag("N", "在线监控（监测）仪器仪表工作正常", "instrument working normally", False),
    "F": DataFlag("F", "在线监控（监测）仪器仪表停运", "instrument stopped", True),
    "M": DataFlag("M", "在线监控（监测）仪器仪表处于维护期间产生的数据", "data produced during maintenance", True),
    "S": DataFlag("S", "手工输入的设定值", "manually entered set value", True),
    "D": DataFlag("D", "在线监控（监测）仪器仪表故障", "instrument fault", True),
    "C": DataFlag("C", "在线监控（监测）仪器仪表处于校准状态", "instrument in calibration", True),
    "T": DataFlag(
        "T",
        "在线监控（监测）仪器仪表采样数值超过测量上限",
        "value above the measuring upper limit",
        False,
        "a lower bound of the true value; kept valid and flagged",
    ),
    "B": DataFlag("B", "在线监控（监测）仪器仪表与数采仪通讯异常", "instrument-logger communication abnormal", True),
}
"""HJ 212-2017 Table 8."""

DATA_FLAGS_2005: Mapping[str, DataFlag] = {
    "N": DataFlag("N", "正常", "normal", False),
    "F": DataFlag("F", "排放源停运", "emission source stopped", True),
    "M": DataFlag("M", "维护", "maintenance", True),
    "S": DataFlag("S", "设定值", "set value", True),
    "D": DataFlag("D", "故障", "fault", True),
    "C": DataFlag("C", "校验", "calibration", True),
    "T": DataFlag("T", "超上限", "over upper limit", False, "kept valid and flagged"),
    "P": DataFlag("P", "电源故障", "power failure", True),
}
"""HJ/T 212-2005 flags for pollution sources (F meant the *source*, not the instrument, stopped)."""

AIR_FLAGS_2005: Mapping[str, DataFlag] = {
    "0": DataFlag("0", "校准数据", "calibration data", True),
    "1": DataFlag("1", "气象参数", "meteorological parameter", False),
    "2": DataFlag("2", "异常数据", "abnormal data", True),
    "3": DataFlag("3", "正常数据", "normal data", False),
}
"""HJ/T 212-2005 ambient-air station flags (digits)."""


def data_flag(flag: str, dialect: str | None = None) -> DataFlag | None:
    """Return the meaning of a transmitted ``xxx-Flag`` value, or None if unknown.

    Digits are the 2005 air-station flags; letters follow 2005 or 2017 (default) per `dialect`.
    """
    if flag in AIR_FLAGS_2005:
        return AIR_FLAGS_2005[flag]
    if dialect == "2005":
        return DATA_FLAGS_2005.get(flag)
    return DATA_FLAGS_2017.get(flag)


# -- CP field names (HJ 212-2017 Table 4) ----------------------------------------------------------

# fmt: off
FACTOR_SUFFIXES: frozenset[str] = frozenset(
    {
        "Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "Flag", "EFlag",
        "SampleTime", "SN", "Info", "RS", "RT", "Data", "DayData", "NightData",
        # HJ/T 212-2005 only
        "Ala", "UpValue", "LowValue",
    }
)
"""Suffixes of ``<code>-<Suffix>`` CP keys (HJ 212-2017 Table 4; 2005 alarm suffixes)."""

CP_FIELD_NAMES: frozenset[str] = frozenset(
    {
        "DataTime", "SystemTime", "QnRtn", "ExeRtn", "RtdInterval", "MinInterval", "RestartTime",
        "OverTime", "ReCount", "NewPW", "PolId", "BeginTime", "EndTime", "VaseNo", "CstartTime",
        "Ctime", "Stime", "InfoId",
        # HJ/T 212-2005 only (answers carry QN/CN/PNO/PNUM inside CP)
        "QN", "CN", "PNO", "PNUM", "PW", "WarnTime", "AlarmTime", "AlarmType", "AlarmTarget",
        "ReportTarget", "ReportTime", "DayStdValue", "NightStdValue", "CTime",
        # HJ 212-2025 (uncertain, reference §9)
        "SKCreateTime", "NewSK",
    }
)
# fmt: on
"""Names of CP items that are not per-factor (HJ 212-2017 Table 4; HJ/T 212-2005 field table)."""


# -- factor codes (HJ 212-2017 Appendix B) ---------------------------------------------------------


class System(StrEnum):
    """Monitoring system a factor code belongs to (HJ 212-2017 Appendix B tables)."""

    AIR_QUALITY = "air-quality"
    FLUE_GAS = "flue-gas"
    WASTEWATER = "wastewater"
    SURFACE_WATER = "surface-water"
    NOISE = "noise"


@dataclass(frozen=True, slots=True)
class Parameter:
    """One factor code of HJ 212-2017 Appendix B.

    `unit` is the default concentration unit the standard's table prints for the first of
    `systems`; `emission_unit` the unit of emission amounts (``-Cou``), if any; `code_2005` the
    HJ/T 212-2005 code ("原编码"), if any. Units are not carried in packets: configure the unit per
    station and factor, and check magnitudes.
    """

    code: str
    zh: str
    en: str
    unit: str
    systems: tuple[System, ...]
    code_2005: str | None = None
    emission_unit: str = ""
    note: str = ""

    @property
    def system(self) -> System:
        """The system whose Appendix B table lists the code first."""
        return self.systems[0]


_FG = (System.FLUE_GAS,)
_FG_AQ = (System.FLUE_GAS, System.AIR_QUALITY)
_AQ = (System.AIR_QUALITY,)
_WW = (System.WASTEWATER, System.SURFACE_WATER)
_NS = (System.NOISE,)
_PM_NOTE = "2017 table prints ng/m³; air networks report µg/m³ in practice"

_PARAMETER_ROWS: tuple[Parameter, ...] = (
    # Flue gas / CEMS (ST=31), HJ 212-2017 Table B.1
    Parameter("a00000", "废气", "flue gas (flow)", "m³/s", _FG, "B02", "m³"),
    Parameter("a21026", "二氧化硫", "SO2", "mg/m³", _FG_AQ, "02", "kg", "air networks report µg/m³ in practice"),
    Parameter("a21002", "氮氧化物", "NOx", "mg/m³", _FG_AQ, "03", "kg"),
    Parameter("a21003", "一氧化氮", "NO", "mg/m³", _FG_AQ, None, "kg"),
    Parameter("a21004", "二氧化氮", "NO2", "mg/m³", _FG_AQ, None, "kg", "air networks report µg/m³ in practice"),
    Parameter("a34013", "烟尘", "smoke / particulate matter", "mg/m³", _FG, "01", "kg"),
    Parameter("a21005", "一氧化碳", "CO", "mg/m³", _FG_AQ, "04", "kg"),
    Parameter("a05001", "二氧化碳", "CO2", "mg/m³", _FG, "30", "kg"),
    Parameter("a19001", "氧气含量", "O2 content", "%", _FG, "S01"),
    Parameter("a01011", "烟气流速", "flue gas velocity", "m/s", _FG, "S02"),
    Parameter("a01012", "烟气温度", "flue gas temperature", "°C", _FG, "S03"),
    Parameter("a01013", "烟气压力", "flue gas pressure", "kPa", _FG, "S08"),
    Parameter("a01014", "烟气湿度", "flue gas humidity", "%", _FG, "S05"),
    Parameter("a01017", "烟气动压", "flue gas dynamic pressure", "kPa", _FG, "S04"),
    Parameter("a01015", "制冷温度", "cooler temperature", "°C", _FG, "S06"),
    Parameter("a01016", "烟道截面积", "duct cross-section", "m²", _FG, "S07"),
    Parameter("a21024", "氯化氢", "HCl", "mg/m³", _FG, "08", "kg"),
    Parameter("a21018", "氟化物", "fluoride", "mg/m³", _FG, "06", "kg"),
    Parameter("a21001", "氨", "NH3", "ng/m³", _FG, "10", "g", "unit as printed in the 2017 table"),
    Parameter("a21028", "硫化氢", "H2S", "mg/m³", _FG, "05", "kg"),
    Parameter("a24088", "非甲烷总烃", "non-methane hydrocarbons", "mg/m³", _FG, None, "kg"),
    Parameter("a24087", "碳氢化合物", "hydrocarbons", "mg/m³", _FG, "25", "kg"),
    Parameter("a20057", "汞及其化合物", "mercury and compounds", "mg/m³", _FG, "31", "kg"),
    Parameter("a01010", "林格曼黑度", "Ringelmann blackness", "", _FG, "37"),
    Parameter("a01901", "垃圾焚烧炉膛内焚烧平均温度", "incinerator furnace mean temperature", "°C", _FG),
    Parameter("a01902", "垃圾焚烧炉膛内DCS温度", "incinerator furnace DCS temperature", "°C", _FG),
    # Ambient air quality (ST=22), HJ 212-2017 Table B.2, plus O3 and TVOC as used in the field
    Parameter("a34004", "细颗粒物(PM2.5)", "PM2.5", "ng/m³", _AQ, None, "", _PM_NOTE),
    Parameter("a34002", "可吸入颗粒物(PM10)", "PM10", "ng/m³", _AQ, None, "", _PM_NOTE),
    Parameter("a34001", "总悬浮颗粒物(TSP)", "TSP", "ng/m³", _AQ, None, "", _PM_NOTE),
    Parameter("a34005", "PM1.0", "PM1.0", "ng/m³", _AQ, None, "", _PM_NOTE),
    Parameter(
        "a05024",
        "臭氧",
        "O3",
        "µg/m³",
        _AQ,
        None,
        "",
        "not in the 2017 table; HJ 524-2009 code used by every air station; unit per practice",
    ),
    Parameter("a01001", "温度", "air temperature", "°C", _AQ),
    Parameter("a01002", "湿度", "relative humidity", "%", _AQ),
    Parameter("a01006", "气压", "air pressure", "kPa", _AQ),
    Parameter("a01007", "风速", "wind speed", "m/s", _AQ),
    Parameter("a01008", "风向", "wind direction", "°", _AQ),
    Parameter(
        "a99054", "总挥发性有机物(TVOC)", "TVOC", "mg/m³", _AQ, None, "", "vendor usage, not in the 2017 table; unit uncertain"
    ),
    # Wastewater (ST=32) and surface water (ST=21), HJ 212-2017 Table B.3
    Parameter("w00000", "污水", "wastewater (flow)", "L/s", _WW, "B01", "m³"),
    Parameter("w01018", "化学需氧量", "COD", "mg/L", _WW, "011", "kg"),
    Parameter("w21003", "氨氮", "ammonia nitrogen", "mg/L", _WW, "060", "kg"),
    Parameter("w21011", "总磷", "total phosphorus", "mg/L", _WW, "101", "kg"),
    Parameter("w21001", "总氮", "total nitrogen", "mg/L", _WW, "065", "kg"),
    Parameter("w01001", "pH值", "pH", "", _WW, "001"),
    Parameter("w01010", "水温", "water temperature", "°C", _WW),
    Parameter("w01009", "溶解氧", "dissolved oxygen", "mg/L", _WW),
    Parameter("w01014", "电导率", "conductivity", "µS/cm", _WW),
    Parameter("w01012", "悬浮物", "suspended solids", "mg/L", _WW, "003", "kg"),
    Parameter("w01017", "五日生化需氧量", "BOD5", "mg/L", _WW, "010", "kg"),
    Parameter("w01019", "高锰酸盐指数", "permanganate index", "mg/L", _WW, None, "kg"),
    Parameter("w01020", "总有机碳", "TOC", "mg/L", _WW, "015", "kg"),
    Parameter("w22001", "石油类", "petroleum oils", "mg/L", _WW, "080", "kg"),
    Parameter("w23002", "挥发酚", "volatile phenol", "mg/L", _WW, "110", "kg"),
    Parameter("w20111", "总汞", "total mercury", "µg/L", _WW, "020", "g"),
    Parameter("w20115", "总镉", "total cadmium", "µg/L", _WW, "022", "g"),
    Parameter("w20116", "总铬", "total chromium", "mg/L", _WW, "023", "kg"),
    Parameter("w20117", "六价铬", "hexavalent chromium", "µg/L", _WW, "024", "g"),
    Parameter("w20119", "总砷", "total arsenic", "µg/L", _WW, "026", "g"),
    Parameter("w20120", "总铅", "total lead", "µg/L", _WW, "027", "g"),
    Parameter("w20121", "总镍", "total nickel", "mg/L", _WW, "028", "kg"),
    Parameter("w20122", "总铜", "total copper", "mg/L", _WW, "029", "kg"),
    Parameter("w20123", "总锌", "total zinc", "mg/L", _WW, "030", "kg"),
    # Noise (ST=23/36), HJ 212-2017 Table B.3 noise part; all dB
    Parameter("LA", "A声级", "A-weighted sound level", "dB", _NS),
    Parameter("L5", "累积百分声级L5", "percentile level L5", "dB", _NS),
    Parameter("L10", "累积百分声级L10", "percentile level L10", "dB", _NS),
    Parameter("L50", "累积百分声级L50", "percentile level L50", "dB", _NS),
    Parameter("L90", "累积百分声级L90", "percentile level L90", "dB", _NS),
    Parameter("L95", "累积百分声级L95", "percentile level L95", "dB", _NS),
    Parameter("Leq", "等效连续A声级", "equivalent continuous level", "dB", _NS),
    Parameter("Ldn", "昼夜等效声级", "day-night level", "dB", _NS),
    Parameter("Ld", "昼间等效声级", "day-time level", "dB", _NS),
    Parameter("Ln", "夜间等效声级", "night-time level", "dB", _NS),
    Parameter("LMx", "最大声级", "maximum level", "dB", _NS),
    Parameter("LMn", "最小声级", "minimum level", "dB", _NS),
)

PARAMETERS: Mapping[str, Parameter] = {row.code: row for row in _PARAMETER_ROWS}
"""2017 factor code → `Parameter` (HJ 212-2017 Appendix B; O3 ``a05024`` from HJ 524-2009)."""

NOISE_CODES: frozenset[str] = frozenset(row.code for row in _PARAMETER_ROWS if System.NOISE in row.systems)

_ST_OF_2005_TABLE: Mapping[System, str] = {System.FLUE_GAS: "31", System.WASTEWATER: "32"}

CODE_2005_TO_2017: Mapping[tuple[str, str], str] = {
    (_ST_OF_2005_TABLE[row.systems[0]], row.code_2005): row.code
    for row in _PARAMETER_ROWS
    if row.code_2005 is not None and row.systems[0] in _ST_OF_2005_TABLE
}
"""(ST, 2005 code) → 2017 code. Keyed by ST because the 2005 tables overlap: ``02`` is SO2 for flue
gas (ST=31) while ``023`` is total chromium for wastewater (ST=32) — and devices at ST=31 send
3-digit vendor codes such as ``023`` that must not be read as water codes."""


def parameter(code: str) -> Parameter | None:
    """Return the Appendix B entry of a 2017 code, or None."""
    return PARAMETERS.get(code)


def normalise_code(code: str, st: str | None) -> str:
    """Return the HJ 212-2017 code for a factor `code` sent by a device of system `st`.

    2017 codes come back unchanged; HJ/T 212-2005 codes are mapped by (ST, code) through
    `CODE_2005_TO_2017` (case-insensitively: ``b01`` = ``B01``); anything else (vendor codes, or a
    2005 code with an unknown ST) comes back unchanged — map those per device.
    """
    if code in PARAMETERS or st is None:
        return code
    mapped = CODE_2005_TO_2017.get((st, code))
    if mapped is None:
        mapped = CODE_2005_TO_2017.get((st, code.upper()))
    return code if mapped is None else mapped
