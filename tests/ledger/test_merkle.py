"""RFC 6962 Merkle trees: root and audit paths against the recursive definition, every size to 70."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tianlan.ledger import merkle


def mth(d: list[bytes]) -> bytes:
    """RFC 6962 §2.1, literally."""
    if not d:
        return sha256(b"").digest()
    if len(d) == 1:
        return sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]), literally."""
    if len(d) <= 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


LEAVES = [sha256(str(i).encode()).digest() for i in range(70)]


@pytest.mark.parametrize("n", range(0, 71))
def test_root_matches_rfc6962(n: int) -> None:
    assert merkle.root(LEAVES[:n]) == mth(LEAVES[:n])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 70])
def test_paths_match_and_verify(n: int) -> None:
    d = LEAVES[:n]
    r = mth(d)
    for m in range(n):
        p = merkle.audit_path(d, m)
        assert p == path(m, d)
        assert merkle.verify_path(d[m], m, n, p, r)
        assert not merkle.verify_path(LEAVES[69 - m % 3] + b"", m, n, p, r) or d[m] == LEAVES[69 - m % 3]
        if n > 1:
            assert not merkle.verify_path(d[m], (m + 1) % n, n, p, r)  # wrong position


def test_leaf_cannot_pass_for_a_node() -> None:
    """Domain separation: an interior node presented as a leaf does not verify."""
    d = LEAVES[:4]
    left = sha256(b"\x01" + sha256(b"\x00" + d[0]).digest() + sha256(b"\x00" + d[1]).digest()).digest()
    assert merkle.root([left, *d[2:]]) != merkle.root(d)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), st.data())
def test_any_tree(d: list[bytes], data: st.DataObject) -> None:
    m = data.draw(st.integers(0, len(d) - 1))
    assert merkle.root(d) == mth(d)
    assert merkle.verify_path(d[m], m, len(d), merkle.audit_path(d, m), merkle.root(d))
