"""Server-side simulations: a :class:`Simulation` with its input, history and events.

A session never reimplements the boot: it calls the Python API
(:class:`mmsvc.simulation.Simulation`, ``sim.mm``) and records what it did in
a *history* so that the same input plus the same history rebuilds the same
state (Fork, Snapshot/Restore, ``--state-dir``). ``Mm.clone_state()`` refuses
after ``free_area_init``, so copies are made by replay; the boot and the
allocator are deterministic, so a replay gives the same output.

History entries (JSON lists):

``["leaves", n]``
    n leaves of the boot ran (whatever Step/RunUntil/breakpoints decided).
``["fail_leaf"]``
    one leaf was attempted and raised (the boot stays at that leaf).
``["alloc", order, gfp, nid, cpu]`` / ``["free", pfn, order, cpu]``
``["alloc_bulk", count, order, gfp, cpu]`` / ``["free_bulk", b64_pfns, order, cpu]``
``["map", virt, phys, length, flags, page_size]`` / ``["unmap", virt, length]``

Calls that raised are not recorded: a failed call changes nothing.

Every method that touches the simulation runs in a worker thread while
holding :attr:`Session.lock`.
"""

from __future__ import annotations

import array
import asyncio
import base64
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmsvc.errors import MmsvcError
from mmsvc.hookspecs import hookimpl
from mmsvc.simulation import Breakpoint, Simulation, StopInfo, StopReason
from mmsvc.v1 import simulation_service_pb2 as pb

SNAPSHOT_MAGIC = b"MMSVC-SNAPSHOT\n"
SNAPSHOT_VERSION = 1
#: largest decompressed snapshot accepted
MAX_SNAPSHOT_BYTES = 256 << 20
#: largest bulk allocation a history entry may replay
MAX_BULK = 1 << 24

ShouldStop = Callable[[], None]


def mmsvc_version() -> str:
    import importlib.metadata as md

    try:
        return md.version("mmsvc")
    except md.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


@dataclass(frozen=True)
class SimInput:
    """What a simulation is built from: replaying a history on it gives its state."""

    machine: dict[str, Any]
    profile: str | None = None
    plugins: tuple[str, ...] = ()

    def description(self) -> Any:
        from mmsvc.machine.description import MachineDescription

        return MachineDescription.from_dict(self.machine)


def ram_bytes(desc: Any) -> int:
    """Simulated RAM of a machine description (what becomes memblock memory)."""
    return sum(end - start for start, end in desc.memblock_memory())


# ---------------------------------------------------------------------------- events


class Journal:
    """The events of one simulation, numbered from 0, with asyncio waiters.

    Appends come from worker threads; waiters are woken on their own loop.
    """

    def __init__(self) -> None:
        self._events: list[pb.StreamEventsResponse] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.closed = False

    def append(self, kind: int, **payload: Any) -> int:
        with self._lock:
            seq = len(self._events)
            self._events.append(pb.StreamEventsResponse(seq=seq, kind=kind, **payload))
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closed
                pass
        return seq

    def close(self) -> None:
        self.append(pb.EVENT_KIND_DELETED)
        self.closed = True

    def since(self, seq: int) -> list[pb.StreamEventsResponse]:
        with self._lock:
            return self._events[seq:]

    @property
    def next_seq(self) -> int:
        return len(self._events)

    def add_waiter(self, ev: asyncio.Event) -> None:
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), ev))

    def remove_waiter(self, ev: asyncio.Event) -> None:
        with self._lock:
            self._waiters = [(lp, e) for lp, e in self._waiters if e is not ev]


STEP_STATE_PB = {"pending": pb.STEP_STATE_PENDING, "running": pb.STEP_STATE_RUNNING,
          "done": pb.STEP_STATE_DONE, "skipped": pb.STEP_STATE_SKIPPED,
          "failed": pb.STEP_STATE_FAILED}


class _JournalPlugin:
    """Registered in each simulation: step transitions into the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @hookimpl
    def mmsvc_before_step(self, ctx: Any, step: Any) -> None:
        done, total = ctx.progress
        self.journal.append(pb.EVENT_KIND_STEP, step=pb.StepTransition(
            path=step.path, state=pb.STEP_STATE_RUNNING, leaves_done=done, leaves_total=total))

    @hookimpl
    def mmsvc_after_step(self, ctx: Any, step: Any) -> None:
        done, total = ctx.progress
        self.journal.append(pb.EVENT_KIND_STEP, step=pb.StepTransition(
            path=step.path, state=STEP_STATE_PB.get(str(step.state), pb.STEP_STATE_UNSPECIFIED),
            leaves_done=done + 1, leaves_total=total))


# ---------------------------------------------------------------------------- conversions


def breakpoint_to_pb(bp: Breakpoint) -> pb.Breakpoint:
    if bp.kind == "pfn_range":
        return pb.Breakpoint(kind=pb.BREAKPOINT_KIND_PFN_RANGE, pfn_range=pb.PfnRangeCondition(
            start_pfn=bp.start_pfn, end_pfn=bp.end_pfn))
    if bp.kind == "allocation_failure":
        return pb.Breakpoint(kind=pb.BREAKPOINT_KIND_ALLOCATION_FAILURE,
                             allocation_failure=pb.AllocationFailureCondition(
                                 min_order=bp.min_order))
    if bp.kind == "zone_free_below":
        return pb.Breakpoint(kind=pb.BREAKPOINT_KIND_ZONE_FREE_BELOW,
                             zone_free_below=pb.ZoneFreeBelowCondition(
                                 nid=bp.nid, zone=bp.zone, pages=bp.pages))
    if bp.kind == "plugin_report":
        return pb.Breakpoint(kind=pb.BREAKPOINT_KIND_PLUGIN_REPORT,
                             plugin_report=pb.PluginReportCondition(plugin=bp.plugin))
    when = pb.BREAKPOINT_WHEN_EXIT if bp.when == "exit" else pb.BREAKPOINT_WHEN_ENTRY
    return pb.Breakpoint(kind=pb.BREAKPOINT_KIND_STEP,
                         step=pb.StepCondition(step=bp.step, when=when))


#: pb breakpoint kind -> (oneof condition name, Breakpoint kind)
_BP_KINDS = {
    pb.BREAKPOINT_KIND_STEP: ("step", "step"),
    pb.BREAKPOINT_KIND_PFN_RANGE: ("pfn_range", "pfn_range"),
    pb.BREAKPOINT_KIND_ALLOCATION_FAILURE: ("allocation_failure", "allocation_failure"),
    pb.BREAKPOINT_KIND_ZONE_FREE_BELOW: ("zone_free_below", "zone_free_below"),
    pb.BREAKPOINT_KIND_PLUGIN_REPORT: ("plugin_report", "plugin_report"),
}


def add_snapshot_breakpoint(sim: Simulation, item: Any) -> None:
    """Re-add a breakpoint saved in a snapshot (``[step, when]`` or a dict)."""
    bp = Breakpoint.from_dict(item) if isinstance(item, dict) else Breakpoint(*item)
    sim.check_breakpoint(bp)
    sim.breakpoints.append(bp)


def breakpoint_from_pb(bp: pb.Breakpoint, field: str) -> Breakpoint:
    """A :class:`Breakpoint` from the wire; RequestError naming ``field``."""
    from mmsvc.server.errors import RequestError

    kind = bp.kind or pb.BREAKPOINT_KIND_STEP
    if kind not in _BP_KINDS:
        raise RequestError(f"{field}.kind", f"unknown kind {kind}")
    cond, name = _BP_KINDS[kind]
    which = bp.WhichOneof("condition")
    if which not in (None, cond):
        raise RequestError(f"{field}.{which}", f"does not go with kind "
                                              f"{pb.BreakpointKind.Name(kind)}")
    try:
        if name == "step":
            if not bp.step.step:
                raise RequestError(f"{field}.step.step", "required")
            when = "exit" if bp.step.when == pb.BREAKPOINT_WHEN_EXIT else "entry"
            return Breakpoint(bp.step.step, when)
        if name == "pfn_range":
            return Breakpoint(kind=name, start_pfn=bp.pfn_range.start_pfn,
                              end_pfn=bp.pfn_range.end_pfn)
        if name == "allocation_failure":
            return Breakpoint(kind=name, min_order=bp.allocation_failure.min_order)
        if name == "zone_free_below":
            c = bp.zone_free_below
            return Breakpoint(kind=name, nid=c.nid, zone=c.zone, pages=c.pages)
        return Breakpoint(kind=name, plugin=bp.plugin_report.plugin)
    except MmsvcError as exc:
        raise RequestError(f"{field}.{cond}", str(exc)) from exc


_REASONS = {StopReason.STEPPED: pb.STOP_REASON_STEPPED,
            StopReason.BREAKPOINT: pb.STOP_REASON_BREAKPOINT,
            StopReason.UNTIL: pb.STOP_REASON_UNTIL,
            StopReason.BOOT_COMPLETE: pb.STOP_REASON_BOOT_COMPLETE}


def stop_to_pb(stop: StopInfo, leaves_run: int, next_seq: int) -> pb.StopInfo:
    out = pb.StopInfo(reason=_REASONS[stop.reason], last_step=stop.last or "",
                      next_step=stop.next or "", leaves_run=leaves_run,
                      next_event_seq=next_seq)
    if stop.breakpoint is not None:
        out.breakpoint.CopyFrom(breakpoint_to_pb(stop.breakpoint))
    return out


# ---------------------------------------------------------------------------- sessions


@dataclass
class Session:
    """One simulation on the server."""

    id: str
    input: SimInput
    controller: str
    display_name: str = ""
    ram: int = 0
    sim: Simulation = field(init=False)
    journal: Journal = field(default_factory=Journal)
    history: list[list[Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    created: float = field(default_factory=time.time)
    deleted: bool = False
    max_history: int = 1 << 20

    def __post_init__(self) -> None:
        self.sim = self._build()

    # -- building -------------------------------------------------------------

    def _build(self) -> Simulation:
        from mmsvc.plugins import PluginFilter, plugin_manager

        desc = self.input.description()
        pm = (plugin_manager(plugin_filter=PluginFilter(only=frozenset(self.input.plugins)))
              if self.input.plugins else plugin_manager())
        sim = Simulation(desc, profile=self.input.profile or None, pm=pm,
                         plugins=[("mmsvc-grpc-journal", _JournalPlugin(self.journal))])
        journal = self.journal

        def on_log(rec: Any) -> None:
            journal.append(pb.EVENT_KIND_LOG, log=pb.LogLine(
                record_seq=rec.seq, level=rec.level, step=rec.step, text=rec.text,
                visible=sim.log.visible(rec)))

        sim.log.subscribe(on_log)
        return sim

    def reset(self) -> None:
        """Rebuild from the input; breakpoints kept, history cleared."""
        bps = list(self.sim.breakpoints)
        self.journal.append(pb.EVENT_KIND_RESET)
        self.sim = self._build()
        self.sim.breakpoints.extend(bps)
        self.history.clear()

    def replay(self, history: list[list[Any]]) -> None:
        for i, op in enumerate(history):
            try:
                self._apply(op)
            except (MmsvcError, TypeError, ValueError, IndexError) as exc:
                raise MmsvcError(f"history[{i}] {op[0]!r}: {type(exc).__name__}: {exc}") \
                    from exc
            self._record(op)

    def _apply(self, op: list[Any]) -> Any:
        """Carry out one history entry; returns the core's answer (the pfn,
        the allocated pfns, the address) or None."""
        sim, kind = self.sim, op[0]
        if kind == "leaves":
            for _ in range(int(op[1])):
                sim.step("substep")
        elif kind == "fail_leaf":
            try:
                sim.step("substep")
            except MmsvcError:
                return
            raise MmsvcError("the leaf that failed originally succeeded on replay")
        elif kind == "alloc":
            _, order, gfp, nid, cpu = op
            kw = {"nid": nid} if nid is not None else {}
            return sim.mm.alloc_pages(order=order, gfp=gfp, cpu=cpu, **kw)
        elif kind == "free":
            _, pfn, order, cpu = op
            sim.mm.free_pages(pfn, order=order, cpu=cpu)
        elif kind == "alloc_bulk":
            _, count, order, gfp, cpu = op
            if not isinstance(count, int) or not 0 <= count <= MAX_BULK:
                raise MmsvcError(f"alloc_bulk count {count!r} outside 0..{MAX_BULK}")
            out = array.array("Q", bytes(8 * count))
            n = sim.mm.alloc_pages_bulk(out, order=order, gfp=gfp, cpu=cpu)
            return out[:n]
        elif kind == "free_bulk":
            _, data, order, cpu = op
            pfns = array.array("Q")
            pfns.frombytes(base64.b64decode(data))
            sim.mm.free_pages_bulk(pfns, order=order, cpu=cpu)
        elif kind == "map":
            _, virt, phys, length, flags, page_size = op
            kw = {"flags": flags} if flags else {}
            sim.mm.kernel_map_range(virt, phys, length, page_size=page_size or None, **kw)
        elif kind == "unmap":
            _, virt, length = op
            sim.mm.kernel_unmap_range(virt, length)
        elif kind == "kmalloc":
            _, size, gfp, cpu = op
            return sim.mm.kmalloc(size, gfp=gfp, cpu=cpu)
        elif kind == "kfree":
            _, addr, cpu = op
            sim.mm.kfree(addr, cpu=cpu)
        elif kind == "vmalloc":
            _, size, caller, huge = op
            return sim.mm.vmalloc(size, caller=caller, huge=huge)
        elif kind == "vfree":
            _, addr = op
            sim.mm.vfree(addr)
        else:
            raise MmsvcError(f"unknown history entry {kind!r}")
        return None

    def _record(self, op: list[Any]) -> None:
        if op[0] == "leaves" and self.history and self.history[-1][0] == "leaves":
            self.history[-1][1] += op[1]
        elif op[0] != "leaves" or op[1]:
            self.history.append(list(op))

    def check_history_room(self, entries: int = 1) -> None:
        from mmsvc.server.errors import LimitExceededError

        if len(self.history) + entries > self.max_history:
            raise LimitExceededError("max_history", f"the simulation's history is full "
                                                    f"({self.max_history} entries)")

    # -- control ----------------------------------------------------------------

    def step(self, granularity: str, count: int, should_stop: ShouldStop) -> pb.StopInfo:
        start = self.sim.leaves_done
        stop: StopInfo | None = None
        try:
            for _ in range(count):
                if stop is not None and self.sim.done:
                    break
                should_stop()
                stop = self.sim.step(granularity)
        except MmsvcError:
            self._record(["leaves", self.sim.leaves_done - start])
            if self._leaf_failed():
                self._record(["fail_leaf"])
            raise
        except BaseException:
            self._record(["leaves", self.sim.leaves_done - start])
            raise
        ran = self.sim.leaves_done - start
        self._record(["leaves", ran])
        assert stop is not None
        return stop_to_pb(stop, ran, self.journal.next_seq)

    def run_until(self, until: str | None, ignore_breakpoints: bool,
                  should_stop: ShouldStop) -> pb.StopInfo:
        """``Simulation.run(until)`` one leaf at a time, checking ``should_stop``
        between leaves: each chunk adds a temporary entry breakpoint on the leaf
        after the next one, so Simulation.run itself decides every stop."""
        sim = self.sim
        if until:
            sim.find_step(until)  # InvalidArgumentError before any work
        start = sim.leaves_done
        saved = list(sim.breakpoints)
        if ignore_breakpoints:
            sim.breakpoints.clear()
        last: str | None = None
        leaves = sim.leaves
        try:
            while True:
                should_stop()
                i = sim.leaves_done
                temp = (Breakpoint(leaves[i + 1].path, "entry")
                        if i + 1 < len(leaves) else None)
                if temp is not None:
                    sim.breakpoints.append(temp)
                try:
                    stop = sim.run(until=until)
                finally:
                    if temp is not None:
                        sim.breakpoints.remove(temp)
                last = stop.last or last
                if stop.breakpoint is temp and temp is not None:
                    continue
                stop = StopInfo(stop.reason, last, stop.next, stop.breakpoint)
                break
        except MmsvcError:
            self._record(["leaves", sim.leaves_done - start])
            if self._leaf_failed():
                self._record(["fail_leaf"])
            raise
        except BaseException:
            self._record(["leaves", sim.leaves_done - start])
            raise
        finally:
            if ignore_breakpoints:
                sim.breakpoints[:] = saved
        ran = sim.leaves_done - start
        self._record(["leaves", ran])
        out = stop_to_pb(stop, ran, self.journal.next_seq)
        if stop.reason is StopReason.BREAKPOINT and stop.breakpoint is not None:
            self.journal.append(pb.EVENT_KIND_BREAKPOINT, breakpoint=pb.BreakpointHit(
                breakpoint=breakpoint_to_pb(stop.breakpoint), stop=out))
            out.next_event_seq = self.journal.next_seq
        return out

    def _leaf_failed(self) -> bool:
        nxt = self.sim.next_step
        return nxt is not None and str(nxt.state) == "failed"

    # -- allocator ----------------------------------------------------------------

    def do(self, op: list[Any]) -> Any:
        """Apply an allocator entry and record it; returns the core's answer."""
        self.check_history_room()
        result = self._apply(op)
        self._record(op)
        return result

    # -- snapshots ----------------------------------------------------------------

    def snapshot_dict(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "mmsvc": mmsvc_version(),
            "machine": self.input.machine,
            "profile": self.input.profile,
            "plugins": list(self.input.plugins),
            "breakpoints": [bp.to_dict() for bp in self.sim.breakpoints],
            "history": self.history,
        }


def encode_snapshot(data: dict[str, Any]) -> bytes:
    return SNAPSHOT_MAGIC + zlib.compress(json.dumps(data, separators=(",", ":")).encode())


def decode_snapshot(blob: bytes) -> dict[str, Any]:
    """Read a blob; SnapshotError (INVALID_ARGUMENT) or SnapshotVersionError."""
    from mmsvc.server.errors import SnapshotError, SnapshotVersionError

    if not blob.startswith(SNAPSHOT_MAGIC):
        raise SnapshotError("not an mmsvc snapshot (bad magic)")
    d = zlib.decompressobj()
    try:
        raw = d.decompress(blob[len(SNAPSHOT_MAGIC):], MAX_SNAPSHOT_BYTES)
    except zlib.error as exc:
        raise SnapshotError(f"corrupt: {exc}") from None
    if d.unconsumed_tail:
        raise SnapshotError(f"larger than {MAX_SNAPSHOT_BYTES} bytes decompressed")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SnapshotError(f"corrupt: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise SnapshotError("corrupt: no version")
    if data["version"] != SNAPSHOT_VERSION:
        raise SnapshotVersionError(f"snapshot format {data['version']}, this server reads "
                                   f"{SNAPSHOT_VERSION}")
    if data.get("mmsvc") != mmsvc_version():
        raise SnapshotVersionError(f"snapshot written by mmsvc {data.get('mmsvc')}, this "
                                   f"server is mmsvc {mmsvc_version()}")
    for key, typ in (("machine", dict), ("plugins", list), ("breakpoints", list),
                     ("history", list)):
        if not isinstance(data.get(key), typ):
            raise SnapshotError(f"corrupt: {key} missing or not a {typ.__name__}")
    if any(not isinstance(op, list) or not op for op in data["history"]):
        raise SnapshotError("corrupt: history entries must be non-empty lists")
    return data
