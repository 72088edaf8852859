"""tianlan.sim — the device side: simulated stations and enterprises speaking HJ 212 over TCP.

Never imported by production code. Modules:

* ``profiles`` — seed-deterministic value generators (air, surface water, wastewater, flue-gas CEMS);
* ``device`` — ``SimDevice``: builds upload frames (CN 2011/2051/2061/2031, 2017 or 2005 dialect);
* ``client`` — ``DeviceClient``: one TCP connection, 9014 matching, OverTime/ReCount resends, 补传;
* ``commands`` — answers to platform requests (9011/9012/9013);
* ``runner`` — ``run_simulation`` and ``blast`` for many devices on one event loop, ``SimStats``;
* ``replay`` — the real Hebei 2019 hourly data as CN 2061 frames; its stations as registry sites;
* ``registry`` — generated fleets; SimDevices from a platform registry (``sim_devices_for``) and back;
* ``ackserver`` — a trivial 9014-only server to measure the simulator's own ceiling;
* ``cli`` — ``tianlan simulate run | replay | frames | ackserver``.
"""
