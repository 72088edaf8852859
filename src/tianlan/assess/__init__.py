"""tianlan.assess

Official results by the national standards. The AQI API is re-exported here lazily (importing the
package stays cheap): ``Edition``, ``edition_for``, ``iaqi``, ``hourly_aqi``, ``daily_aqi``,
``AqiResult``, ``Level``, ``level_for``; the vectorised path is ``tianlan.assess.aqi_frame``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Edition": "tianlan.assess.editions",
    "edition_for": "tianlan.assess.editions",
    "iaqi": "tianlan.assess.aqi",
    "hourly_aqi": "tianlan.assess.aqi",
    "daily_aqi": "tianlan.assess.aqi",
    "AqiResult": "tianlan.assess.aqi",
    "Level": "tianlan.assess.levels",
    "level_for": "tianlan.assess.levels",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tianlan.assess' has no attribute {name!r}")
