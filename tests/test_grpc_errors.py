"""Bad requests of every kind get the right rich status; limits refuse before any
work and change nothing; deadlines and cancellation; auth; the server stays healthy."""

from __future__ import annotations

import dataclasses
import json
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mmsvc import errors as e
from mmsvc.client import Client, RemoteError, batch_error
from mmsvc.machine import default_machine, dumps_json
from mmsvc.server import errors as se
from mmsvc.server.limits import Limits
from mmsvc.server.sessions import Session, SimInput
from mmsvc.server.testing import ServerThread
from mmsvc.v1 import simulation_service_pb2 as pb

C = grpc.StatusCode


@pytest.fixture(scope="module")
def server():
    with ServerThread() as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with Client(server.address, client_id="tester") as c:
        yield c


@pytest.fixture(scope="module")
def fresh(client):
    """A simulation paused before setup_arch."""
    return client.create().simulation_id


@pytest.fixture(scope="module")
def booted(client):
    sid = client.create().simulation_id
    client.boot(sid)
    return sid


def healthy(address: str) -> bool:
    with grpc.insecure_channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        r = stub.Check(health_pb2.HealthCheckRequest(service="mmsvc.v1.SimulationService"),
                       timeout=5)
        return r.status == health_pb2.HealthCheckResponse.SERVING


def expect(call, code, field=None, reason=None, exception=None):
    with pytest.raises(RemoteError) as err:
        call()
    assert err.value.code == code, err.value
    if field is not None:
        assert field in err.value.fields, err.value.fields
    if reason is not None:
        assert err.value.reason == reason
    if exception is not None:
        assert err.value.exception == exception
    return err.value


BAD_TOML = 'arch = "x86_64"\ncpus = [\n'


@pytest.mark.parametrize("kwargs, field", [
    ({"profile": "5.15"}, "profile"),
    ({"toml": BAD_TOML}, "machine.toml"),
    ({"json": "{"}, "machine.json"),
    ({"json": "[1]"}, "machine.json"),
    ({"toml": 'arch = "x86_64"\ncpus = 0\n'}, "machine.firmware"),
    ({"json": json.dumps({**default_machine().to_dict(), "cpus": -3})}, "machine.cpus"),
    ({"toml": 'arch = "x86_64"\n[kconfig]\npath = "/etc/passwd"\n'}, "machine.kconfig.path"),
    ({"toml": 'arch = "x86_64"\n[kernel]\nsystem_map = "/etc/passwd"\n'},
     "machine.kernel.system_map"),
    ({"json": dumps_json(default_machine()).replace('"arch": "x86_64"', '"arch": "sparc"')},
     None),
    ({"plugins": ["nope"]}, "plugins[0]"),
    ({"dmesg": "hello\nworld"}, "machine.dmesg"),
    # a memtest= no one could wait for (every pass prints every free range)
    ({"json": dumps_json(default_machine().replace(cmdline="console=ttyS0 nokaslr"))
      .replace("nokaslr", "nokaslr memtest=4000000000")}, "machine.cmdline: memtest=4000000000"),
    ({"json": json.dumps({**default_machine().to_dict(),
                          "faulty_ram": [{"start": 0, "size": 0}]})}, "machine.faulty_ram[0].size"),
])
def test_create_rejects_bad_input(client, server, kwargs, field):
    before = len(client.list())
    err = expect(lambda: client.create(**kwargs), C.INVALID_ARGUMENT, field)
    assert err.reason in ("REQUEST", "MACHINE_CONFIG", "PLUGIN")
    assert len(client.list()) == before
    assert healthy(server.address)


def test_bad_requests_of_every_kind(client, server, fresh, booted):
    expect(lambda: client.get("nope"), C.NOT_FOUND, reason="NOT_FOUND")
    expect(lambda: client.step("nope"), C.NOT_FOUND)
    expect(lambda: client.get(""), C.INVALID_ARGUMENT, "simulation_id")
    expect(lambda: list(client.events("nope")), C.NOT_FOUND)
    expect(lambda: client.run_until(fresh, "mem_int"), C.INVALID_ARGUMENT, "step")
    expect(lambda: client.set_breakpoints(fresh, ["mem_int"]), C.INVALID_ARGUMENT,
           "breakpoints[0].step.step")
    expect(lambda: client.step(fresh, count=10**6), C.INVALID_ARGUMENT, "count")
    for cond, field in (
            (dict(kind=pb.BREAKPOINT_KIND_PFN_RANGE, pfn_range=pb.PfnRangeCondition()),
             "breakpoints[0].pfn_range"),
            (dict(kind=pb.BREAKPOINT_KIND_ZONE_FREE_BELOW,
                  zone_free_below=pb.ZoneFreeBelowCondition(pages=10)),
             "breakpoints[0].zone_free_below"),
            (dict(kind=pb.BREAKPOINT_KIND_ZONE_FREE_BELOW,
                  zone_free_below=pb.ZoneFreeBelowCondition(zone="HighMem", pages=10)),
             "breakpoints[0].zone_free_below.zone"),
            (dict(kind=pb.BREAKPOINT_KIND_STEP,
                  pfn_range=pb.PfnRangeCondition(start_pfn=1, end_pfn=2)),
             "breakpoints[0].pfn_range")):
        expect(lambda c=cond: client.set_breakpoints(fresh, [pb.Breakpoint(**c)]),
               C.INVALID_ARGUMENT, field)
    expect(lambda: client.proc(fresh, "slabinfo"), C.FAILED_PRECONDITION)
    expect(lambda: client.proc(fresh, "vmallocinfo"), C.FAILED_PRECONDITION)
    expect(lambda: client.proc(booted, "nope"), C.INVALID_ARGUMENT, "file")
    expect(lambda: client.memblock(booted, ["bogus"]), C.INVALID_ARGUMENT, "read_mask")
    # state errors from the simulation itself
    expect(lambda: client.zones(fresh), C.FAILED_PRECONDITION, exception="InvalidStateError")
    expect(lambda: client.alloc_pages(fresh), C.FAILED_PRECONDITION)
    expect(lambda: client.translate(fresh, 0), C.FAILED_PRECONDITION)
    expect(lambda: client.step(booted), C.FAILED_PRECONDITION, reason="INVALID_STATE")
    # allocator errors: each mmsvc error class to its status
    pfn = client.alloc_pages(booted, order=1)
    expect(lambda: client.free_pages(booted, pfn, order=2), C.FAILED_PRECONDITION,
           exception="WrongOrderError")
    client.free_pages(booted, pfn, order=1)
    expect(lambda: client.free_pages(booted, pfn, order=1), C.FAILED_PRECONDITION,
           exception="DoubleFreeError")
    expect(lambda: client.free_pages(booted, 1 << 40), C.OUT_OF_RANGE)
    expect(lambda: client.alloc_pages(booted, order=40), C.INVALID_ARGUMENT)
    expect(lambda: client.alloc_pages(booted, gfp="GFP_BOGUS"), C.INVALID_ARGUMENT)
    expect(lambda: client.map_range(booted, 0, 0, 0), C.INVALID_ARGUMENT, "length")
    expect(lambda: client.restore(b"junk"), C.INVALID_ARGUMENT, "snapshot")
    expect(lambda: client.restore(b""), C.INVALID_ARGUMENT, "snapshot")
    assert healthy(server.address)
    assert client.get(booted).boot_complete


def test_out_of_memory_is_resource_exhausted(client):
    m = default_machine()
    sid = client.create(toml=None, json=dumps_json(m)).simulation_id
    client.boot(sid)
    err = expect(lambda: [client.alloc_pages(sid, order=10) for _ in range(10_000)],
                 C.RESOURCE_EXHAUSTED, reason="OUT_OF_MEMORY")
    assert err.exception == "OutOfMemoryError"
    # a bulk allocation stops short instead
    r, = client.batch([pb.BatchRequest(simulation_id=sid, alloc=pb.AllocBatch(count=10,
                                                                                order=10))])
    assert r.count == 0 and batch_error(r) is None
    client.delete(sid)


def test_every_error_class_has_one_mapping():
    cases = {
        e.InvalidArgumentError("x: bad"): C.INVALID_ARGUMENT,
        e.MachineConfigError("e820[1].size", "zero"): C.INVALID_ARGUMENT,
        e.OutOfRangeError("pfn: out"): C.OUT_OF_RANGE,
        e.DoubleFreeError("d"): C.FAILED_PRECONDITION,
        e.NotAllocatedError("n"): C.FAILED_PRECONDITION,
        e.WrongOrderError("w"): C.FAILED_PRECONDITION,
        e.OutOfMemoryError("o"): C.RESOURCE_EXHAUSTED,
        e.CapacityExceededError("c"): C.RESOURCE_EXHAUSTED,
        e.InvalidStateError("s"): C.FAILED_PRECONDITION,
        e.PluginError("p", plugin="x", hook="h"): C.FAILED_PRECONDITION,
        e.InternalError("i"): C.INTERNAL,
        e.MmsvcError("m"): C.UNKNOWN,
        se.NotFoundError("id"): C.NOT_FOUND,
        se.LimitExceededError("max_simulations", "full"): C.RESOURCE_EXHAUSTED,
        se.NotImplementedYetError("later"): C.UNIMPLEMENTED,
        se.UnauthenticatedError("who"): C.UNAUTHENTICATED,
        se.CancelledError(deadline=True): C.DEADLINE_EXCEEDED,
        se.CancelledError(deadline=False): C.CANCELLED,
        RuntimeError("bug"): C.INTERNAL,
    }
    for exc, code in cases.items():
        st = se.status_proto(exc)
        assert st.code == code.value[0], (exc, st)
        err = RemoteError.from_status(code, st.message, st.details)
        assert err.reason and err.metadata["exception"] == type(exc).__name__
    st = se.status_proto(e.MachineConfigError("e820[1].size", "zero"))
    assert RemoteError.from_status(C.INVALID_ARGUMENT, "", st.details).fields == [
        "e820[1].size"]
    st = se.status_proto(e.PluginError("p", plugin="x", hook="h"))
    md = RemoteError.from_status(C.FAILED_PRECONDITION, "", st.details).metadata
    assert (md["plugin"], md["hook"]) == ("x", "h")


def test_limits_refuse_before_any_work(tmp_path):
    ram = sum(e - b for b, e in default_machine().memblock_memory())
    limits = dataclasses.replace(Limits(), max_simulations=2, max_total_ram=3 * ram,
                                 max_batch_size=100, max_streams_per_client=1,
                                 max_message_bytes=64 << 10)
    with ServerThread(limits=limits, state_dir=tmp_path) as srv, \
            Client(srv.address, client_id="a") as c:
        a = c.create().simulation_id
        c.create()
        err = expect(c.create, C.RESOURCE_EXHAUSTED, reason="LIMIT_EXCEEDED")
        assert err.metadata["limit"] == "max_simulations"
        assert len(c.list()) == 2 and len(list(tmp_path.iterdir())) == 2
        big = default_machine().replace(cmdline="mem=6G")
        c.delete(a)
        # per-simulation RAM: a machine over the limit
        with ServerThread(limits=dataclasses.replace(limits, max_ram_per_simulation=ram - 1)
                          ) as small, Client(small.address) as c2:
            err = expect(c2.create, C.RESOURCE_EXHAUSTED)
            assert err.metadata["limit"] == "max_ram_per_simulation" and c2.list() == []
        # total RAM
        with ServerThread(limits=dataclasses.replace(limits, max_total_ram=ram + ram // 2)
                          ) as tot, Client(tot.address) as c3:
            c3.create()
            err = expect(c3.create, C.RESOURCE_EXHAUSTED)
            assert err.metadata["limit"] == "max_total_ram" and len(c3.list()) == 1
        del big
        # batch size
        sid = c.list()[0].simulation_id
        c.boot(sid)
        r, = c.batch([pb.BatchRequest(simulation_id=sid, alloc=pb.AllocBatch(count=101))])
        assert batch_error(r).code == C.RESOURCE_EXHAUSTED and r.count == 0
        assert c.get(sid).history_length == 1
        # streams per client
        follow = c.events(sid, follow=True, timeout=10)
        next(follow)
        expect(lambda: list(c.events(sid)), C.RESOURCE_EXHAUSTED)
        follow.close()
        # message size: grpc refuses a request over the limit
        expect(lambda: c.create(toml="#" * (128 << 10)), C.RESOURCE_EXHAUSTED)
        assert healthy(srv.address)


def test_run_until_stops_between_leaves_and_keeps_them():
    s = Session(id="x", input=SimInput(default_machine().to_dict()), controller="c")
    calls = []

    def should_stop():
        calls.append(1)
        if len(calls) > 5:
            raise se.CancelledError(deadline=True)

    with pytest.raises(se.CancelledError):
        s.run_until(None, False, should_stop)
    assert s.history == [["leaves", 5]]
    assert s.sim.next_step is not None
    copy = Session(id="y", input=s.input, controller="c")
    copy.replay(s.history)
    assert copy.sim.next_step.path == s.sim.next_step.path
    assert copy.sim.log.text() == s.sim.log.text()
    st = se.status_proto(se.CancelledError(deadline=True))
    assert st.code == C.DEADLINE_EXCEEDED.value[0]


@pytest.fixture
def slow_leaves(monkeypatch):
    """Every leaf of every simulation in this process takes 20 ms more."""
    import time

    from mmsvc.simulation import Simulation

    real = Simulation._run_leaf

    def slow(self):
        time.sleep(0.02)
        return real(self)

    monkeypatch.setattr(Simulation, "_run_leaf", slow)


def test_deadline_and_cancel_stop_between_leaves(slow_leaves):
    with ServerThread() as srv, Client(srv.address, client_id="d") as c:
        sid = c.create().simulation_id
        with pytest.raises(RemoteError) as err:
            c.run_until(sid, timeout=0.3)
        assert err.value.code == C.DEADLINE_EXCEEDED
        time.sleep(0.3)  # the server notices between two leaves
        s = c.get(sid)
        assert s.next_step and not s.boot_complete and s.history_length == 1
        ran = sum(1 for e in c.events(sid) if e.kind == pb.EVENT_KIND_STEP
                  and e.step.state != pb.STEP_STATE_RUNNING)
        assert 0 < ran < 40
        # the leaves that ran are in the history: a fork is at the same point
        assert c.fork(sid).next_step == s.next_step
        # a cancelled call stops too
        fut = c.stub.RunUntil.future(pb.RunUntilRequest(simulation_id=sid, boot_complete=True),
                                     metadata=[("mmsvc-client-id", "d")], timeout=30)
        time.sleep(0.2)
        fut.cancel()
        time.sleep(0.3)
        s2 = c.get(sid)
        assert not s2.boot_complete and s2.next_step != s.next_step
        assert c.boot(sid).reason == pb.STOP_REASON_BOOT_COMPLETE


def test_token_auth():
    with ServerThread(token="s3cret") as srv:
        expect(lambda: Client(srv.address).list(), C.UNAUTHENTICATED)
        expect(lambda: Client(srv.address, token="wrong").create(), C.UNAUTHENTICATED)
        with Client(srv.address, token="s3cret") as ok:
            sid = ok.create().simulation_id
            assert [s.simulation_id for s in ok.list()] == [sid]
            assert list(ok.events(sid)) == []
        expect(lambda: list(Client(srv.address).events(sid)), C.UNAUTHENTICATED)
        assert healthy(srv.address)  # health needs no token


def test_reflection_lists_the_services(server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(server.address) as ch:
        db = ProtoReflectionDescriptorDatabase(ch)
        services = set(db.get_services())
        assert {"mmsvc.v1.SimulationService", "grpc.health.v1.Health"} <= services
        fd = db.FindFileContainingSymbol("mmsvc.v1.SimulationService")
        assert fd.package == "mmsvc.v1"


def test_restore_refuses_forged_snapshots(client, booted):
    from mmsvc.server.sessions import decode_snapshot, encode_snapshot

    data = decode_snapshot(client.snapshot(booted))
    before = len(client.list())
    for history in ([["alloc_bulk", 1 << 40, 0, None, 0]], [["leaves", "many"]],
                    [["bogus"]], [["free", 1, 0, 0]], [["alloc"]]):
        blob = encode_snapshot({**data, "history": data["history"] + history})
        expect(lambda b=blob: client.restore(b), C.INVALID_ARGUMENT, "snapshot")
    # a breakpoint on a zone the architecture does not have
    bad_bp = {"kind": "zone_free_below", "nid": 0, "zone": "HighMem", "pages": 1}
    blob = encode_snapshot({**data, "breakpoints": [bad_bp]})
    expect(lambda: client.restore(blob), C.INVALID_ARGUMENT, "breakpoint.zone")
    blob = encode_snapshot({**data, "version": 99})
    expect(lambda: client.restore(blob), C.FAILED_PRECONDITION)
    blob = encode_snapshot({**data, "mmsvc": "0.0.0-other"})
    expect(lambda: client.restore(blob), C.FAILED_PRECONDITION)
    assert len(client.list()) == before
