"""tianlan.alarms — alarm rules and levels, episodes, lifecycle, silences, notifiers (DESIGN: must not decide validity).

- :mod:`~tianlan.alarms.policy`: the level table (1 notice … 4 critical) and alarm behaviour settings.
- :mod:`~tianlan.alarms.episodes`: pure — detector results → episodes (merge, dedupe, corroborate),
  the evidence bundle, the A.csv alarm file of ``tianlan qc scan``.
- :mod:`~tianlan.alarms.lifecycle`: raised → acknowledged → verified → disposed → closed, with who and why.
- :mod:`~tianlan.alarms.service`: episodes into the store (dedupe against open alarms), transitions,
  silences and maintenance windows, auto-resolve, notifications, per-detector precision.
- :mod:`~tianlan.alarms.notify`: signed JSON webhook (httpx) and e-mail (smtplib).

An alarm is evidence for people, never a verdict on validity: validity comes from instrument state,
documented rules and people (DESIGN §3).
"""

from tianlan.alarms.episodes import Episode, build_episodes
from tianlan.alarms.policy import AlarmPolicy

__all__ = ["AlarmPolicy", "Episode", "build_episodes"]
