"""Merkle trees as in RFC 6962 §2.1 (Certificate Transparency), pure functions over bytes.

Leaves and interior nodes are domain-separated so that a leaf can never pass for a node:

    leaf hash  = SHA-256(0x00 ‖ leaf data)
    node hash  = SHA-256(0x01 ‖ left ‖ right)
    MTH({})    = SHA-256("")
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

For frame seals the leaf data is a frame's SHA-256 (32 bytes), in raw_frames id order; for
checkpoints it is a ledger entry's hash. An audit path (RFC 6962 §2.1.1) proves one leaf's
inclusion with log2(n) hashes; :func:`verify_path` is the RFC 9162 §2.1.3.2 algorithm, and
``scripts/verify_proof.py`` carries an independent copy of it.
"""

from __future__ import annotations

from hashlib import sha256

LEAF = b"\x00"
NODE = b"\x01"
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(NODE + left + right).digest()


def split(blob: bytes, width: int = 32) -> list[bytes]:
    """Concatenated fixed-width items → list."""
    return [blob[i:i + width] for i in range(0, len(blob), width)]


def root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree head over ``leaves`` (the leaf data, not yet hashed).

    Bottom-up, a lone right node is carried up unchanged; this builds exactly RFC 6962's tree,
    whose left subtrees are always complete.
    """
    if not leaves:
        return EMPTY_ROOT
    h = sha256  # a local: this loop is on the writer's hot path (two hashes per frame)
    level = [h(b"\x00" + d).digest() for d in leaves]
    while len(level) > 1:
        n = len(level)
        nxt = [h(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, n - 1, 2)]
        if n % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def audit_path(leaves: list[bytes], index: int) -> list[bytes]:
    """The RFC 6962 audit path of leaf ``index`` (sibling hashes, bottom first)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf index {index} outside a tree of {len(leaves)}")
    path: list[bytes] = []
    level = [sha256(LEAF + d).digest() for d in leaves]
    i = index
    while len(level) > 1:
        sib = i ^ 1
        if sib < len(level):
            path.append(level[sib])
        nxt = [sha256(NODE + level[j] + level[j + 1]).digest() for j in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        i //= 2
    return path


def root_from_path(leaf_data: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """The root that ``path`` leads to from leaf ``index`` of a tree of ``size`` (RFC 9162 §2.1.3.2);
    None when the path has the wrong shape for that index and size."""
    if not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    r = leaf_hash(leaf_data)
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_path(leaf_data: bytes, index: int, size: int, path: list[bytes], expected_root: bytes) -> bool:
    return root_from_path(leaf_data, index, size, path) == expected_root
