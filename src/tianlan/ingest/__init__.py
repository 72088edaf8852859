"""tianlan.ingest"""

# First: decide between the compiled modules (mypyc) and their Python sources (see _native).
from tianlan.hj212 import _native  # noqa: F401
