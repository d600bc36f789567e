"""The gRPC service against a real server on loopback: lifecycle, stepping,
state queries, events, fork, snapshot/restore, concurrency, observers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from mmsvc import views
from mmsvc.client import Client, RemoteError, batch_error
from mmsvc.machine import default_machine
from mmsvc.server.testing import ServerThread
from mmsvc.simulation import Simulation
from mmsvc.v1 import simulation_service_pb2 as pb

PROCS = ("buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo")


@pytest.fixture(scope="module")
def server():
    with ServerThread() as srv:
        yield srv


def _client(server, name: str):
    """A client named ``name`` that deletes its simulations when done."""
    c = Client(server.address, client_id=name)
    yield c
    for s in c.list(only_mine=True):
        c.delete(s.simulation_id)
    c.close()


@pytest.fixture
def alice(server):
    yield from _client(server, "alice")


@pytest.fixture
def bob(server):
    yield from _client(server, "bob")


def local(profile: str | None = None, boot: bool = True) -> Simulation:
    sim = Simulation(default_machine(), profile=profile)
    if boot:
        sim.boot()
    return sim


def test_create_step_inspect_matches_in_process(alice):
    s = alice.create(display_name="first")
    assert s.arch == "x86_64" and s.controller == "alice" and not s.boot_complete
    assert s.next_step.startswith("setup_arch/") and s.log_records == 0
    assert s.ram_bytes == sum(e - b for b, e in default_machine().memblock_memory())
    ref = local(boot=False)
    stop = alice.step(s.simulation_id, "substep")
    want = ref.step("substep")
    assert stop.reason == pb.STOP_REASON_STEPPED and stop.last_step == want.last
    assert stop.next_step == want.next and stop.leaves_run == 1
    stop = alice.step(s.simulation_id, "step", count=2)
    ref.step("step")
    want = ref.step("step")
    assert (stop.last_step, stop.next_step) == (want.last, want.next)
    stop = alice.run_until(s.simulation_id, "mem_init")
    want = ref.run(until="mem_init")
    assert stop.reason == pb.STOP_REASON_UNTIL and stop.next_step == want.next
    mb = alice.memblock(s.simulation_id)
    assert [(r.base, r.size, r.nid, r.flags) for r in mb.memory] == [
        (r.base, r.size, r.nid, r.flags) for r in ref.mm.memblock.memory()]
    assert len(mb.reserved) == len(ref.mm.memblock.reserved()) and mb.dump
    only = alice.memblock(s.simulation_id, ["memory"])
    assert only.memory and not only.reserved and not only.dump
    stop = alice.boot(s.simulation_id)
    ref.boot()
    assert stop.reason == pb.STOP_REASON_BOOT_COMPLETE and stop.next_step == ""
    for name in PROCS:
        assert alice.proc(s.simulation_id, name) == views.render(ref, name), name
    zones = alice.zones(s.simulation_id)
    assert [(z.nid, z.name, list(z.nr_free)) for z in zones] == [
        (z["nid"], z["zone"], z["nr_free"]) for z in ref.mm.zones()]
    assert alice.meminfo(s.simulation_id) == views.meminfo(ref)
    dm = ref.ctx.results["direct_map"]
    virt = dm["virt"] + 0x1234000
    assert [lv.text for lv in alice.walk(s.simulation_id, virt)] == [
        lv["text"] for lv in ref.mm.walk(virt)]
    t = alice.translate(s.simulation_id, virt)
    assert t.phys == ref.mm.translate(virt)["phys"]
    got = alice.get(s.simulation_id)
    assert got.boot_complete and got.log_records == len(ref.log)
    assert [x.simulation_id for x in alice.list()] .count(s.simulation_id) == 1


def test_allocator_and_map_range(alice):
    sid = alice.create().simulation_id
    alice.boot(sid)
    ref = local()
    pfn = alice.alloc_pages(sid, order=3)
    assert pfn == ref.mm.alloc_pages(order=3)
    assert alice.proc(sid, "buddyinfo") == ref.mm.buddyinfo()
    alice.free_pages(sid, pfn, order=3)
    ref.mm.free_pages(pfn, order=3)
    assert alice.proc(sid, "buddyinfo") == ref.mm.buddyinfo()
    virt = 0xFFFFC90000000000
    alice.map_range(sid, virt, 0x100000, 0x2000)
    assert alice.translate(sid, virt + 0x1000).phys == 0x101000
    alice.unmap_range(sid, virt, 0x2000)
    with pytest.raises(RemoteError):
        alice.translate(sid, virt)


def test_breakpoints_events_and_resume(alice):
    sid = alice.create().simulation_id
    bps = alice.set_breakpoints(sid, [("mem_init", "entry"), ("mem_init_print_info", "exit")])
    assert [b.step.step for b in bps] == ["mem_init", "mem_init_print_info"]
    ref = local(boot=False)
    ref.add_breakpoint("mem_init")
    ref.add_breakpoint("mem_init_print_info", "exit")
    for _ in range(3):
        stop, want = alice.run_until(sid), ref.run()
        assert stop.reason == pb.StopReason.Value(f"STOP_REASON_{want.reason.upper()}")
        assert (stop.last_step, stop.next_step) == (want.last or "", want.next or "")
        if want.breakpoint:
            assert stop.breakpoint.step.step == want.breakpoint.step
    events = list(alice.events(sid))
    assert [e.seq for e in events] == list(range(len(events)))
    logs = [e.log.text for e in events if e.kind == pb.EVENT_KIND_LOG]
    assert logs == [r.text for r in ref.log.records]
    hits = [e for e in events if e.kind == pb.EVENT_KIND_BREAKPOINT]
    assert [h.breakpoint.breakpoint.step.step for h in hits] == ["mem_init",
                                                                 "mem_init_print_info"]
    steps = [e.step for e in events if e.kind == pb.EVENT_KIND_STEP]
    assert steps[0].state == pb.STEP_STATE_RUNNING and steps[-1].state == pb.STEP_STATE_DONE
    # step transitions carry the boot's progress
    total = steps[0].leaves_total
    assert total > 0 and steps[0].leaves_done == 0
    assert all(s.leaves_total == total for s in steps)
    assert [s.leaves_done for s in steps] == sorted(s.leaves_done for s in steps)
    # resume after a "reconnect"
    k = len(events) // 2
    assert list(alice.events(sid, from_seq=k)) == events[k:]
    only_logs = list(alice.events(sid, kinds=[pb.EVENT_KIND_LOG]))
    assert [e.log.text for e in only_logs] == logs


def test_follow_stream_sees_new_events_and_deletion(alice, bob):
    sid = alice.create().simulation_id
    got: list[pb.StreamEventsResponse] = []
    done = threading.Event()

    def follow():
        for ev in bob.events(sid, follow=True, timeout=30):
            got.append(ev)
        done.set()

    t = threading.Thread(target=follow)
    t.start()
    alice.boot(sid)
    alice.delete(sid)
    assert done.wait(20)
    t.join(5)
    assert got[-1].kind == pb.EVENT_KIND_DELETED
    assert any(e.kind == pb.EVENT_KIND_LOG and e.log.text.startswith("Memory:") for e in got)


def test_fork_replays_to_the_same_state(alice, bob):
    sid = alice.create(profile="6.1").simulation_id
    alice.run_until(sid, "mem_init")
    alice.step(sid, count=3)
    fork = bob.fork(sid, display_name="copy")  # an observer may fork; it controls the copy
    assert fork.controller == "bob" and fork.next_step == alice.get(sid).next_step
    assert fork.history_length == alice.get(sid).history_length
    assert list(bob.events(fork.simulation_id, kinds=[pb.EVENT_KIND_LOG])) == list(
        alice.events(sid, kinds=[pb.EVENT_KIND_LOG]))
    alice.boot(sid)
    bob.boot(fork.simulation_id)
    pfn = alice.alloc_pages(sid, order=2)
    fork2 = alice.fork(sid)
    for name in PROCS:
        assert alice.proc(fork2.simulation_id, name) == alice.proc(sid, name)
    # the copies are independent
    assert bob.alloc_pages(fork.simulation_id, order=2) == pfn
    alice.free_pages(fork2.simulation_id, pfn, order=2)
    ref = local("6.1")
    ref.mm.free_pages(ref.mm.alloc_pages(order=2), order=2)
    assert alice.proc(fork2.simulation_id, "buddyinfo") == views.render(ref, "buddyinfo")
    assert alice.proc(sid, "buddyinfo") != alice.proc(fork2.simulation_id, "buddyinfo")


def test_reset_keeps_breakpoints(alice):
    sid = alice.create().simulation_id
    alice.set_breakpoints(sid, ["mem_init"])
    alice.run_until(sid)
    s = alice.reset(sid)
    assert s.next_step.startswith("setup_arch/") and s.log_records == 0
    assert s.history_length == 0 and [b.step.step for b in s.breakpoints] == ["mem_init"]
    assert alice.run_until(sid).reason == pb.STOP_REASON_BREAKPOINT
    assert any(e.kind == pb.EVENT_KIND_RESET for e in alice.events(sid))


def test_snapshot_restore_on_another_server(alice):
    sid = alice.create().simulation_id
    alice.boot(sid)
    pfns = [alice.alloc_pages(sid, order=o) for o in (0, 1, 5)]
    alice.free_pages(sid, pfns[1], order=1)
    alice.set_breakpoints(sid, [("mem_init", "exit")])
    blob = alice.snapshot(sid)
    with ServerThread() as other:
        with Client(other.address, client_id="carol") as carol:
            r = carol.restore(blob, display_name="restored")
            assert r.controller == "carol" and r.boot_complete
            assert [b.step.step for b in r.breakpoints] == ["mem_init"]
            for name in PROCS:
                assert carol.proc(r.simulation_id, name) == alice.proc(sid, name)
            carol.free_pages(r.simulation_id, pfns[0], order=0)


def test_capabilities_and_steps(alice):
    caps = alice.capabilities()
    assert caps.api_version == "v1" and set(caps.profiles) == {"5.14", "6.1"}
    assert {"x86_64", "um"} <= {a.name for a in caps.architectures}
    plugins = {p.name: p for p in caps.plugins}
    assert plugins["x86_64"].version and "x86_64" in plugins["x86_64"].architectures
    ref = local("6.1", boot=False)
    assert list(caps.step_names["6.1"].paths) == [
        leaf.path for top in ref.steps for leaf in top.leaves()]
    assert list(caps.breakpoint_kinds) == [
        pb.BREAKPOINT_KIND_STEP, pb.BREAKPOINT_KIND_PFN_RANGE,
        pb.BREAKPOINT_KIND_ALLOCATION_FAILURE, pb.BREAKPOINT_KIND_ZONE_FREE_BELOW,
        pb.BREAKPOINT_KIND_PLUGIN_REPORT]
    assert caps.limits.max_simulations > 0 and caps.snapshot_version == 1
    sid = alice.create(profile="6.1").simulation_id
    alice.step(sid)
    steps = alice.steps(sid)
    assert [s.name for s in steps] == [s["name"] for s in ref.step_list()]
    assert steps[0].state == pb.STEP_STATE_RUNNING
    assert steps[0].substeps[0].state == pb.STEP_STATE_DONE


def test_create_from_toml_json_dmesg(alice):
    from mmsvc.machine import dumps_json, dumps_toml

    m = default_machine().replace(cpus=2)
    a = alice.create(json=dumps_json(m))
    b = alice.create(toml=dumps_toml(m))
    for s in (a, b):
        alice.boot(s.simulation_id)
    ref = Simulation(m)
    ref.boot()
    assert alice.proc(a.simulation_id, "zoneinfo") == views.render(ref, "zoneinfo")
    assert alice.proc(b.simulation_id, "zoneinfo") == views.render(ref, "zoneinfo")
    dmesg = "\n".join(r.text for r in ref.log.records)
    c = alice.create(dmesg=dmesg)
    assert c.arch == "x86_64"


def test_concurrent_clients_on_separate_simulations(server):
    want = {p: views.render(local(p), "buddyinfo") for p in ("5.14", "6.1")}

    def work(i: int) -> bool:
        with Client(server.address, client_id=f"worker-{i}") as c:
            profile = ("5.14", "6.1")[i % 2]
            sid = c.create(profile=profile).simulation_id
            for _ in range(5):
                c.step(sid, "step")
            c.boot(sid)
            same = c.proc(sid, "buddyinfo") == want[profile]
            pfns = [c.alloc_pages(sid, order=1) for _ in range(20)]
            for p in pfns:
                c.free_pages(sid, p, order=1)
            text = c.proc(sid, "meminfo")
            ok = "MemTotal" in text and c.get(sid).boot_complete
            c.delete(sid)
            return ok and same

    with ThreadPoolExecutor(6) as ex:
        assert all(ex.map(work, range(6)))


def test_observer_reads_but_cannot_mutate(alice, bob):
    sid = alice.create().simulation_id
    alice.run_until(sid, "mem_init")
    assert bob.get(sid).controller == "alice"
    assert bob.proc(sid, "buddyinfo") == alice.proc(sid, "buddyinfo")
    assert list(bob.events(sid)) == list(alice.events(sid))
    for call in (lambda: bob.step(sid), lambda: bob.run_until(sid),
                 lambda: bob.set_breakpoints(sid, ["mem_init"]), lambda: bob.reset(sid),
                 lambda: bob.delete(sid), lambda: bob.alloc_pages(sid),
                 lambda: bob.free_pages(sid, 0), lambda: bob.map_range(sid, 0, 0, 4096)):
        with pytest.raises(RemoteError) as err:
            call()
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert err.value.preconditions == ["CONTROLLER"]
        assert err.value.metadata["controller"] == "alice"
    with pytest.raises(RemoteError) as err:
        list(bob.batch([pb.BatchRequest(simulation_id=sid, alloc=pb.AllocBatch(count=1))]))
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert alice.get(sid).history_length == 1  # nothing changed


def test_batch_stream(alice):
    sid = alice.create().simulation_id
    alice.boot(sid)
    before = alice.proc(sid, "buddyinfo")
    reqs = [pb.BatchRequest(simulation_id=sid, batch_id=1, alloc=pb.AllocBatch(count=5000)),
            pb.BatchRequest(simulation_id=sid, batch_id=2, alloc=pb.AllocBatch(count=100,
                                                                                order=2))]
    r1, r2 = list(alice.batch(reqs))
    assert (r1.batch_id, r1.count, len(r1.pfns)) == (1, 5000, 5000)
    assert r2.count == 100 and batch_error(r1) is None
    ref = local()
    import array

    out = array.array("Q", bytes(8 * 5000))
    ref.mm.alloc_pages_bulk(out, order=0)
    assert list(r1.pfns) == list(out)
    frees = [pb.BatchRequest(simulation_id=sid, batch_id=3,
                             free=pb.FreeBatch(pfns=[r1.pfns[0], r1.pfns[0]])),
             pb.BatchRequest(simulation_id=sid, batch_id=4, free=pb.FreeBatch(pfns=r1.pfns)),
             pb.BatchRequest(simulation_id=sid, batch_id=5,
                             free=pb.FreeBatch(pfns=r2.pfns, order=2))]
    bad, ok1, ok2 = list(alice.batch(frees))
    err = batch_error(bad)
    assert err is not None and err.code == grpc.StatusCode.FAILED_PRECONDITION
    assert ok1.count == 5000 and ok2.count == 100 and batch_error(ok2) is None
    # everything was freed again: as many free pages as right after the boot
    assert sum(z.nr_free_pages + z.pcp_pages for z in alice.zones(sid)) == sum(
        z["nr_free_pages"] + z["pcp_pages"] for z in local().mm.zones())
    assert len(alice.proc(sid, "buddyinfo").splitlines()) == len(before.splitlines())


def test_condition_breakpoints_over_the_wire(server):
    with Client(server.address, client_id="bp") as c:
        sid = c.create(profile="6.1").simulation_id
        bps = c.set_breakpoints(sid, [pb.Breakpoint(
            kind=pb.BREAKPOINT_KIND_ZONE_FREE_BELOW,
            zone_free_below=pb.ZoneFreeBelowCondition(nid=0, zone="DMA32", pages=10**9))])
        assert bps[0].zone_free_below.zone == "DMA32"
        stop = c.run_until(sid)
        assert stop.reason == pb.STOP_REASON_BREAKPOINT
        assert stop.last_step == "setup_arch/paging_init"
        assert stop.breakpoint.kind == pb.BREAKPOINT_KIND_ZONE_FREE_BELOW
        # a snapshot keeps the breakpoint
        copy = c.restore(c.snapshot(sid))
        kinds = [s.kind for s in c.get(copy.simulation_id).breakpoints]
        assert kinds == [pb.BREAKPOINT_KIND_ZONE_FREE_BELOW]


def test_kmalloc_vmalloc_and_structured_views(server):
    with Client(server.address, client_id="k") as c:
        sid = c.create(profile="6.1").simulation_id
        c.boot(sid)
        a = c.kmalloc(sid, 100)
        caches = {x.name: x for x in c.slab_caches(sid)}
        assert caches["kmalloc-128"].active_objs >= 1 and caches["kmalloc-128"].objsize == 128
        v = c.vmalloc(sid, 64 << 10, caller="grpc_probe")
        areas = [x for x in c.vmalloc_areas(sid) if x.caller == "grpc_probe"]
        assert [(x.addr, x.size, x.nr_pages) for x in areas] == [(v, 68 << 10, 16)]
        assert "grpc_probe" in c.proc(sid, "vmallocinfo")
        # the history replays: a fork has the same objects
        fork = c.fork(sid).simulation_id
        assert c.proc(fork, "slabinfo") == c.proc(sid, "slabinfo")
        c.kfree(sid, a)
        c.vfree(sid, v)
        with pytest.raises(RemoteError) as err:
            c.kfree(sid, a)
        assert err.value.code.name == "FAILED_PRECONDITION"
        assert not [x for x in c.vmalloc_areas(sid) if x.caller == "grpc_probe"]


def test_zones_carry_pagetypeinfo_counts(server):
    with Client(server.address, client_id="z") as c:
        sid = c.create(profile="6.1").simulation_id
        c.boot(sid)
        for z in c.zones(sid):
            by_type = {f.migratetype: list(f.nr_free) for f in z.free_by_type}
            assert set(by_type) >= {"Unmovable", "Movable", "Reclaimable"}
            # buddyinfo's per-order counts are the sum over migratetypes
            sums = [sum(col) for col in zip(*by_type.values(), strict=True)]
            assert sums == list(z.nr_free)


def test_fork_keeps_condition_breakpoints(alice):
    sid = alice.create(profile="6.1").simulation_id
    alice.set_breakpoints(sid, ["mem_init", pb.Breakpoint(
        kind=pb.BREAKPOINT_KIND_ALLOCATION_FAILURE)])
    fork = alice.fork(sid)
    assert [b.kind for b in fork.breakpoints] == [pb.BREAKPOINT_KIND_STEP,
                                                  pb.BREAKPOINT_KIND_ALLOCATION_FAILURE]


def test_faulty_ram_over_the_wire(alice):
    """A machine description with bad RAM and memtest=: the service boots it
    like the library does, the bad words reserved in memblock."""
    from mmsvc.machine import FaultyRam, dumps_json

    m = default_machine().replace(cmdline="console=ttyS0 nokaslr memtest=2",
                                  faulty_ram=(FaultyRam(0x2000_0000, 64),))
    s = alice.create(json=dumps_json(m))
    alice.boot(s.simulation_id)
    reserved = [(r.base, r.base + r.size) for r in alice.memblock(s.simulation_id).reserved]
    assert any(lo <= 0x2000_0000 and 0x2000_0040 <= hi for lo, hi in reserved)
    ref = Simulation(m)
    ref.boot()
    assert alice.meminfo(s.simulation_id) == views.meminfo(ref)


def test_a_uefi_machine_over_the_service(alice):
    """A UEFI boot log and its TOML description (RUNTIME attributes past
    2^63 written as strings) both boot on the server as they do here."""
    from pathlib import Path

    from mmsvc.machine import dumps_toml, from_dmesg

    log = Path(__file__).parent / "realboots" / "efi-pc-2g-dbg.log"
    m = from_dmesg(str(log))
    ref = Simulation(m)
    ref.boot()
    for made in (alice.create(dmesg=log.read_text(errors="replace")),
                 alice.create(toml=dumps_toml(m))):
        alice.boot(made.simulation_id)
        assert alice.proc(made.simulation_id, "zoneinfo") == views.render(ref, "zoneinfo")
        assert alice.meminfo(made.simulation_id)["MemTotal"] == views.meminfo(ref)["MemTotal"]
