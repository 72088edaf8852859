"""The device client over real TCP: OverTime resends, ReCount → reconnect, 补传, 2005 answers."""

from __future__ import annotations

import asyncio
import time

from sim_helpers import FakePlatform

from tianlan.hj212 import Packet, command_request, data_ack, decode
from tianlan.model.timeutil import parse_user_time
from tianlan.sim.client import DeviceClient
from tianlan.sim.device import SimDevice, Upload

T = parse_user_time("2019-01-15T08:00:00")


def _uploads(n: int, protocol: str = "2017", kind: str = "air") -> list[Upload]:
    return SimDevice("SIMTEST000000000000000001", "123456", kind, protocol=protocol, seed=1).series(
        "2051", T, 600, n)


async def _wait(pred: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_frame_is_resent_after_overtime_when_the_ack_is_lost() -> None:
    ups = _uploads(3)

    async def main() -> tuple[FakePlatform, DeviceClient, float]:
        plat = await FakePlatform(policy=lambda p, seen: "drop" if seen == 1 else "ack").start()
        c = DeviceClient("127.0.0.1", plat.port, ups[0].mn, ack_timeout_s=0.2, retries=3)
        c.start()
        t0 = time.monotonic()
        c.submit_many(ups)
        assert await c.wait_idle(10)
        elapsed = time.monotonic() - t0
        await c.close()
        await plat.kill()
        return plat, c, elapsed

    plat, c, elapsed = asyncio.run(main())
    for u in ups:
        assert plat.times_received(u.frame) == 2, "sent once, resent once with the same bytes"
    assert elapsed >= 3 * 0.2, "each resend waits for OverTime"
    s = c.stats
    assert (s.sent, s.acked, s.retransmissions, s.transmissions) == (3, 3, 3, 6)
    assert s.reconnects == 0 and s.duplicate_acks == 0 and s.unmatched_acks == 0
    assert c.sent_frames == plat.stored == {u.frame for u in ups}
    assert len(s.latencies) == 3 and min(s.latencies) >= 0.2


def test_an_answer_with_a_bad_crc_is_ignored() -> None:
    ups = _uploads(1)

    async def main() -> tuple[FakePlatform, DeviceClient]:
        plat = await FakePlatform(policy=lambda p, seen: "corrupt" if seen == 1 else "ack").start()
        c = DeviceClient("127.0.0.1", plat.port, ups[0].mn, ack_timeout_s=0.1)
        c.start()
        c.submit(ups[0])
        assert await c.wait_idle(5)
        await c.close()
        await plat.kill()
        return plat, c

    plat, c = asyncio.run(main())
    assert plat.times_received(ups[0].frame) == 2
    assert (c.stats.bad_frames, c.stats.retransmissions, c.stats.acked) == (1, 1, 1)


def test_after_recount_resends_the_link_is_dropped_and_the_frame_reuploaded() -> None:
    ups = _uploads(2)
    first = ups[0].frame

    async def main() -> tuple[FakePlatform, DeviceClient]:
        # The first frame's first 4 transmissions (1 + ReCount 3) go unanswered.
        plat = await FakePlatform(
            policy=lambda p, seen: "drop" if p.qn == ups[0].qn and seen <= 4 else "ack").start()
        c = DeviceClient("127.0.0.1", plat.port, ups[0].mn, ack_timeout_s=0.1, retries=3,
                         backoff_initial_s=0.05)
        c.start()
        c.submit_many(ups)
        assert await c.wait_idle(10)
        await c.close()
        await plat.kill()
        return plat, c

    plat, c = asyncio.run(main())
    s = c.stats
    assert plat.times_received(first) == 5 and plat.connections == 2
    assert (s.retransmissions, s.links_down, s.reconnects, s.reuploads) == (3, 1, 1, 1)
    assert s.acked == 2 and plat.times_received(ups[1].frame) == 1


def test_server_closing_the_connection_makes_the_client_reconnect_and_reupload() -> None:
    ups = _uploads(4)

    async def main() -> tuple[FakePlatform, DeviceClient]:
        plat = await FakePlatform(policy=lambda p, seen: "close" if seen == 1 else "ack").start()
        c = DeviceClient("127.0.0.1", plat.port, ups[0].mn, ack_timeout_s=5.0, backoff_initial_s=0.02)
        c.start()
        c.submit_many(ups)
        assert await c.wait_idle(10), "closing must not wait for OverTime"
        await c.close()
        await plat.kill()
        return plat, c

    plat, c = asyncio.run(main())
    assert c.stats.acked == 4 and c.stats.reconnects == 4 and c.stats.reuploads == 4
    assert c.stats.retransmissions == 0
    assert all(plat.times_received(u.frame) == 2 for u in ups)


def test_server_killed_and_restarted_on_the_same_port_gets_every_unacked_frame() -> None:
    ups = _uploads(6)

    async def main() -> tuple[FakePlatform, FakePlatform, DeviceClient]:
        # The first platform stores frames but dies before answering (kill -9 before commit).
        dead = await FakePlatform(policy=lambda p, seen: "drop").start()
        c = DeviceClient("127.0.0.1", dead.port, ups[0].mn, ack_timeout_s=0.3, retries=3, window=3,
                         backoff_initial_s=0.05, backoff_max_s=0.2)
        c.start()
        c.submit_many(ups[:3])
        await _wait(lambda: len(dead.received) == 3)
        await dead.kill()
        c.submit_many(ups[3:])  # data keeps coming while the platform is down
        await asyncio.sleep(0.5)
        assert not c.connected and c.stats.connect_failures >= 1
        alive = await FakePlatform(port=dead.port).start()
        assert await c.wait_idle(10)
        await c.close()
        await alive.kill()
        return dead, alive, c

    dead, alive, c = asyncio.run(main())
    assert alive.stored == {u.frame for u in ups} == c.sent_frames
    assert alive.received == [u.frame for u in ups], "unacked frames first, in order, each once"
    assert c.stats.acked == 6 and c.stats.reconnects == 1 and c.stats.reuploads == 3
    assert c.unacked == []


def test_2005_answers_carry_the_qn_inside_cp_and_are_matched() -> None:
    ups = _uploads(3, protocol="2005", kind="wastewater")
    answer = data_ack(decode(ups[0].frame))
    assert b"CP=&&QN=" + ups[0].qn.encode() in answer and not answer[6:].startswith(b"QN=")

    async def main() -> DeviceClient:
        plat = await FakePlatform().start()
        c = DeviceClient("127.0.0.1", plat.port, ups[0].mn, ack_timeout_s=0.5)
        c.start()
        c.submit_many(ups)
        assert await c.wait_idle(5)
        await c.close()
        await plat.kill()
        return c

    c = asyncio.run(main())
    assert c.stats.acked == 3 and c.stats.retransmissions == 0 and c.stats.unmatched_acks == 0


def test_platform_requests_are_answered_and_cn1000_sets_overtime_and_recount() -> None:
    mn = "SIMTEST000000000000000001"
    req_qn = "20190115080000123"

    def greet(writer: asyncio.StreamWriter) -> None:
        writer.write(command_request("1000", mn=mn, pw="123456", cp={"OverTime": "7", "ReCount": "5"},
                                     qn=req_qn))
        writer.write(command_request("1061", mn=mn, pw="123456", qn="20190115080000124"))

    async def main() -> tuple[FakePlatform, DeviceClient]:
        plat = FakePlatform(on_connect=greet)
        await plat.start()
        c = DeviceClient("127.0.0.1", plat.port, mn, ack_timeout_s=0.5)
        c.start()
        await _wait(lambda: len(plat.packets) >= 5)
        await c.close()
        await plat.kill()
        return plat, c

    plat, c = asyncio.run(main())
    answers: list[Packet] = plat.packets
    assert [(p.cn, p.qn) for p in answers[:2]] == [("9011", req_qn), ("9012", req_qn)]
    assert answers[0].cp.fields["QnRtn"] == "1" and answers[1].cp.fields["ExeRtn"] == "1"
    assert answers[0].st == "91" and answers[0].flag == 4 and answers[0].mn == mn
    assert c.ack_timeout_s == 7.0 and c.retries == 5
    assert [p.cn for p in answers[2:5]] == ["9011", "1061", "9012"]
    assert answers[3].cp.fields["RtdInterval"] == "30" and answers[3].flag == 4
    assert c.stats.commands == 2


def test_unmatched_and_duplicate_acks_are_counted_not_fatal() -> None:
    ups = _uploads(1)

    async def main() -> DeviceClient:
        def twice(p: Packet, seen: int) -> str:
            return "ack"

        plat = await FakePlatform(policy=twice).start()
        c = DeviceClient("127.0.0.1", plat.port, ups[0].mn, ack_timeout_s=1.0)
        c.start()
        c.submit(ups[0])
        assert await c.wait_idle(5)
        p = decode(ups[0].frame)
        c._on_ack(p.qn)  # the same answer again
        c._on_ack("20000101000000000")
        await c.close()
        await plat.kill()
        return c

    c = asyncio.run(main())
    assert (c.stats.acked, c.stats.duplicate_acks, c.stats.unmatched_acks) == (1, 1, 1)
