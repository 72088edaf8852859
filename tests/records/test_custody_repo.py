"""Chain of custody on both stores: signed steps, impossible sequences rejected, access, ledger proof."""

from __future__ import annotations

import pytest
from records_world import PW, World

from tianlan.errors import Conflict, InputError, NotFound
from tianlan.store.custody_repo import CustodyRepo

T0 = 1_546_300_800  # 2019-01-01T00:00Z
SAMPLE = {"place": "甲厂总排口 DW001", "container": "1 L 棕色玻璃瓶", "preservation": "H2SO4 pH<2, 0-4 °C",
          "analytes": "w01018", "holding_h": 48}


def _chain(world: World, repo: CustodyRepo, code: str = "S-2019-001") -> None:
    repo.record(world.u("lab_sampler"), PW, code, "sample", T0, SAMPLE, site="S-E1")
    repo.record(world.u("lab_sampler"), PW, code, "transfer", T0 + 3600,
                {"from": "lab_sampler", "to": "lab_analyst", "condition": "封条完好 / seal intact"})
    repo.record(world.u("lab_analyst"), PW, code, "analysis", T0 + 7200,
                {"method": "HJ 828-2017", "instrument": "滴定管 BT-03", "standard_lot": "GSB07-3161 #B19050",
                 "results": "w01018=56 mg/L"})


def test_full_chain_signed_and_proved(world: World) -> None:
    repo = CustodyRepo(world.engine)
    _chain(world, repo)
    repo.record(world.u("lab_signer"), PW, "S-2019-001", "report", T0 + 86400,
                {"reviewer": "lab_reviewer", "report_no": "LAB1-R-0001"})
    s, proofs = repo.get(world.u("auditor"), "S-2019-001", with_proof=True)
    assert [x.step for x in s.steps] == ["sample", "transfer", "analysis", "report"]
    assert s.signature_ok == [True] * 4 and s.holder == "lab_analyst" and s.reported
    assert len(proofs) == 5 and all(p["entry"] is not None for p in proofs)
    from hashlib import sha256

    for p in proofs:  # each entry hash recomputes from its body and predecessor
        e = p["entry"]
        assert sha256(bytes.fromhex(e["prev_hash"]) + sha256(e["body"].encode()).digest()).hexdigest() == e["hash"]
    with pytest.raises(InputError, match="closed"):
        repo.record(world.u("lab_signer"), PW, "S-2019-001", "report", T0 + 90000,
                    {"reviewer": "lab_reviewer", "report_no": "LAB1-R-0002"})


@pytest.mark.parametrize(("who", "step", "dt", "details", "field"), [
    ("lab_analyst", "analysis", -60, {"method": "m", "instrument": "i", "standard_lot": "l"}, "time"),  # before sampled
    ("lab_sampler", "transfer", -60, {"from": "lab_sampler", "to": "lab_analyst"}, "time"),  # before sampling
    ("lab_analyst", "analysis", 49 * 3600, {"method": "m", "instrument": "i", "standard_lot": "l"}, "time"),  # holding
    ("lab_signer", "report", 3 * 3600, {"reviewer": "lab_analyst", "report_no": "R"}, "reviewer"),  # analyst reviews
    ("lab_signer", "report", 3600, {"reviewer": "lab_reviewer", "report_no": "R"}, "time"),  # before analysis
    ("lab_sampler", "transfer", 3 * 3600, {"from": "lab_sampler", "to": "lab_reviewer"}, "from"),  # not the holder
    ("lab_analyst", "transfer", 3 * 3600, {"from": "lab_analyst", "to": "nobody"}, "to"),  # unknown receiver
])
def test_impossible_sequences_are_rejected(world: World, who: str, step: str, dt: int, details: dict,
                                           field: str) -> None:
    repo = CustodyRepo(world.engine)
    repo.record(world.u("lab_sampler"), PW, "S1", "sample", T0, SAMPLE)
    repo.record(world.u("lab_sampler"), PW, "S1", "transfer", T0 + 1800, {"from": "lab_sampler", "to": "lab_analyst"})
    if step == "report" and field == "reviewer":
        repo.record(world.u("lab_analyst"), PW, "S1", "analysis", T0 + 7200,
                    {"method": "m", "instrument": "i", "standard_lot": "l"})
    if step == "report" and field == "time":
        repo.record(world.u("lab_analyst"), PW, "S1", "analysis", T0 + 7200,
                    {"method": "m", "instrument": "i", "standard_lot": "l"})
    with pytest.raises(InputError) as e:
        repo.record(world.u(who), PW, "S1", step, T0 + dt, details)
    assert e.value.field == field
    s, _ = repo.get(world.u("lab_sampler"), "S1")
    assert len(s.steps) in (2, 3)  # nothing was written


def test_report_before_analysis_and_access(world: World) -> None:
    repo = CustodyRepo(world.engine)
    repo.record(world.u("lab_sampler"), PW, "S2", "sample", T0, SAMPLE, site="S-E1")
    with pytest.raises(InputError) as e:
        repo.record(world.u("lab_signer"), PW, "S2", "report", T0 + 60, {"reviewer": "lab_reviewer", "report_no": "R"})
    assert e.value.field == "step" and "report before analysis" in str(e.value)
    with pytest.raises(Conflict):
        repo.record(world.u("lab_sampler"), PW, "S2", "sample", T0, SAMPLE)
    with pytest.raises(InputError) as e:
        repo.record(world.u("ent1"), PW, "S3", "sample", T0, SAMPLE)
    assert e.value.field == "user"
    with pytest.raises(InputError) as e:
        repo.get(world.u("ent1"), "S2")  # enterprises do not read the lab's chain
    assert e.value.field == "--sample"
    with pytest.raises(InputError):
        repo.get(world.u("city_ts"), "S2")  # the site is in Shijiazhuang
    assert repo.get(world.u("city_sjz"), "S2")[0].code == "S2"
    assert [s.code for s in repo.list(world.u("lab_reviewer"))] == ["S2"]
    assert repo.list(world.u("ent2")) == []
    with pytest.raises(NotFound):
        repo.get(world.u("auditor"), "NOPE")
