"""The covered tables of Tianlan's own modules, and the import of the others that declare theirs.

``tianlan ledger verify`` must know every covered table, in whichever process it runs, so the
modules that call :func:`tianlan.ledger.covered.register` are imported from here.
"""

from __future__ import annotations

import importlib
import logging

from tianlan.ledger.covered import register

log = logging.getLogger(__name__)

# users and keys (tianlan.auth): the password hash and keys are covered, so that swapping a hash
# or a public key by SQL (taking over an account, forging a signer) is detected.
register("users", ["username"], ["display_name", "role", "scope", "active", "password_hash", "public_key",
                                 "private_key_enc"])
register("api_keys", ["id"], ["name", "prefix", "secret_sha256", "role", "scope", "rate_limit_per_min", "active",
                              "created_by", "revoked_utc"])
# the network registry (tianlan.store.registry_repo)
register("regions", ["code"], ["name", "name_en", "level", "parent_code"])
register("enterprises", ["code"], ["name", "region_code", "industry", "key_polluter"])
register("sites", ["code"], ["name", "kind", "region_code", "lon", "lat", "control_level", "background",
                             "section_type", "target_class", "enterprise_code", "outlet_type", "attrs"])
register("parameters", ["code"], ["name", "name_en", "unit", "system", "code_2005"])
register("devices", ["mn"], ["id", "password", "st", "kind", "protocol", "crc_variant", "site_code", "parameters",
                             "active", "created_utc"])

#: modules of other parts of Tianlan that register covered tables when imported
PROVIDERS = (
    "tianlan.ledger.versions",
    "tianlan.ledger.review",
    "tianlan.ledger.custody",
    "tianlan.ledger.marks",
    "tianlan.ledger.interference",
)

for _name in PROVIDERS:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as e:
        if e.name != _name:
            raise
