"""The SimulationService servicer (grpc.aio): request validation, sessions,
limits, ownership, state-dir persistence; the work itself is the Python API.

Every RPC runs its simulation work in a thread pool (``_work``), holding the
session's lock, so the event loop stays free and two calls on one simulation
never interleave. Errors of any kind become statuses in one place
(:func:`mmsvc.server.errors.status_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from google.protobuf import timestamp_pb2

from mmsvc.errors import MmsvcError
from mmsvc.machine.description import PROFILES
from mmsvc.server import errors as se
from mmsvc.server.limits import Limits
from mmsvc.server.sessions import (
    SNAPSHOT_VERSION,
    STEP_STATE_PB,
    Session,
    SimInput,
    add_snapshot_breakpoint,
    breakpoint_from_pb,
    breakpoint_to_pb,
    decode_snapshot,
    encode_snapshot,
    mmsvc_version,
    ram_bytes,
)
from mmsvc.simulation import Breakpoint, Simulation
from mmsvc.v1 import simulation_service_pb2 as pb
from mmsvc.v1 import simulation_service_pb2_grpc as pb_grpc

log = logging.getLogger("mmsvc.server")

CLIENT_ID_KEY = "mmsvc-client-id"
ANONYMOUS = "anonymous"
API_VERSION = "v1"
STATE_SUFFIX = ".mmsvc-sim"

_PROC = {pb.PROC_FILE_BUDDYINFO: "buddyinfo", pb.PROC_FILE_PAGETYPEINFO: "pagetypeinfo",
         pb.PROC_FILE_ZONEINFO: "zoneinfo", pb.PROC_FILE_MEMINFO: "meminfo",
         pb.PROC_FILE_SLABINFO: "slabinfo", pb.PROC_FILE_VMALLOCINFO: "vmallocinfo"}


def rpc(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Unary handler wrapper: authenticate, then turn any exception into a status."""

    @functools.wraps(fn)
    async def wrapper(self: SimulationService, request: Any, context: Any) -> Any:
        try:
            self._authenticate(context)
            return await fn(self, request, context)
        except (MmsvcError, Exception) as exc:  # noqa: B014 - every error, one mapping
            if not isinstance(exc, MmsvcError):
                log.exception("internal error in %s", fn.__name__)
            await context.abort_with_status(se.grpc_status(exc))

    return wrapper


def stream_rpc(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Server-streaming handler wrapper (an async generator)."""

    @functools.wraps(fn)
    async def wrapper(self: SimulationService, request: Any, context: Any) -> AsyncIterator[Any]:
        try:
            self._authenticate(context)
            async for item in fn(self, request, context):
                yield item
        except (MmsvcError, Exception) as exc:  # noqa: B014
            if not isinstance(exc, MmsvcError):
                log.exception("internal error in %s", fn.__name__)
            await context.abort_with_status(se.grpc_status(exc))

    return wrapper


def _require_id(request: Any) -> str:
    sid = request.simulation_id
    if not sid:
        raise se.RequestError("simulation_id", "required")
    return sid


def _machine_input(src: pb.MachineSource, max_bytes: int) -> Any:
    """A MachineDescription from the request, never reading server files."""
    from mmsvc.machine import default_machine, from_dmesg
    from mmsvc.machine.description import MachineDescription
    from mmsvc.machine.loader import from_dict

    which = src.WhichOneof("source")
    if which in (None, "default_machine"):
        return default_machine()
    text: str = getattr(src, which)
    if len(text.encode()) > max_bytes:
        raise se.LimitExceededError("max_machine_bytes",
                                    f"machine.{which}: larger than {max_bytes} bytes")
    if which == "dmesg":
        # a trailing newline makes from_dmesg read the text, never a path
        return from_dmesg(text + "\n")
    if which == "toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise se.RequestError("machine.toml", str(exc)) from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise se.RequestError("machine.json", str(exc)) from None
    if not isinstance(data, dict):
        raise se.RequestError(f"machine.{which}", "expected a table/object at the top level")
    kcfg, kern = data.get("kconfig"), data.get("kernel")
    if isinstance(kcfg, dict) and "path" in kcfg:
        raise se.RequestError("machine.kconfig.path", "the server reads no files: inline "
                                                      "the kconfig keys")
    if isinstance(kern, dict) and "system_map" in kern:
        raise se.RequestError("machine.kernel.system_map", "the server reads no files: give "
                                                           "the image sizes")
    desc = from_dict(data, None)
    assert isinstance(desc, MachineDescription)
    return desc


class SimulationService(pb_grpc.SimulationServiceServicer):
    """The v1 service over :class:`mmsvc.simulation.Simulation`."""

    def __init__(self, limits: Limits | None = None, state_dir: str | os.PathLike[str] |
                 None = None, token: str | None = None, workers: int = 4) -> None:
        self.limits = limits or Limits()
        self.state_dir = Path(state_dir) if state_dir else None
        self.token = token
        self.sessions: dict[str, Session] = {}
        self._reserved_ram = 0
        self._reserved_slots = 0
        self._admit = threading.Lock()
        self._streams: dict[str, int] = {}
        self.executor = ThreadPoolExecutor(max_workers=workers,
                                           thread_name_prefix="mmsvc-sim")
        self._caps: pb.GetCapabilitiesResponse | None = None
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._load_state()

    # -- plumbing ----------------------------------------------------------------

    def _authenticate(self, context: Any) -> None:
        if self.token is None:
            return
        md = dict(context.invocation_metadata() or ())
        got = md.get("authorization", "")
        if not hmac.compare_digest(got.encode(), f"Bearer {self.token}".encode()):
            raise se.UnauthenticatedError("missing or wrong bearer token "
                                          "(metadata 'authorization: Bearer <token>')")

    @staticmethod
    def _client(context: Any) -> str:
        md = dict(context.invocation_metadata() or ())
        return str(md.get(CLIENT_ID_KEY) or ANONYMOUS)

    def _session(self, sid: str) -> Session:
        s = self.sessions.get(sid)
        if s is None or s.deleted:
            raise se.NotFoundError(sid)
        return s

    def _controlled(self, request: Any, context: Any) -> Session:
        s = self._session(_require_id(request))
        client = self._client(context)
        if client != s.controller:
            raise se.NotControllerError(s.id, client, s.controller)
        return s

    async def _work(self, context: Any, session: Session | None,
                    fn: Callable[..., Any], *, cancellable: bool = False,
                    persist: bool = False) -> Any:
        """Run ``fn`` in the pool under the session's lock. With ``cancellable``
        ``fn`` gets a ``should_stop()`` that raises between steps once the
        client cancelled or the deadline passed."""
        cancel = threading.Event()
        remaining = context.time_remaining() if context is not None else None
        deadline = time.monotonic() + remaining if remaining is not None else None

        def should_stop() -> None:
            if cancel.is_set():
                raise se.CancelledError(deadline=False)
            if deadline is not None and time.monotonic() > deadline:
                raise se.CancelledError(deadline=True)

        def call() -> Any:
            if session is None:
                return fn(should_stop) if cancellable else fn()
            with session.lock:
                if session.deleted:
                    raise se.NotFoundError(session.id)
                try:
                    return fn(should_stop) if cancellable else fn()
                finally:
                    if persist:
                        self._persist(session)

        fut = asyncio.get_running_loop().run_in_executor(self.executor, call)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            cancel.set()
            raise

    def _summary(self, s: Session) -> pb.Simulation:
        sim = s.sim
        nxt = sim.next_step
        ts = timestamp_pb2.Timestamp()
        ts.FromNanoseconds(int(s.created * 1e9))
        return pb.Simulation(
            simulation_id=s.id, display_name=s.display_name, controller=s.controller,
            arch=sim.machine.arch, profile=sim.machine.profile, ram_bytes=s.ram,
            boot_complete=sim.done, next_step=nxt.path if nxt else "",
            log_records=len(sim.log), next_event_seq=s.journal.next_seq,
            plugins=sorted(name for name, _ in sim.pm.list_name_plugin()
                           if name != "mmsvc-grpc-journal"),
            history_length=len(s.history),
            breakpoints=[breakpoint_to_pb(bp) for bp in sim.breakpoints],
            create_time=ts)

    # -- admission, creation, persistence ----------------------------------------

    def _admit_new(self, ram: int) -> None:
        """Reserve a slot and RAM, or raise RESOURCE_EXHAUSTED changing nothing."""
        lim = self.limits
        with self._admit:
            if len(self.sessions) + self._reserved_slots >= lim.max_simulations:
                raise se.LimitExceededError(
                    "max_simulations", f"the server holds {lim.max_simulations} simulations "
                                       f"(the limit); delete one first")
            if ram > lim.max_ram_per_simulation:
                raise se.LimitExceededError(
                    "max_ram_per_simulation", f"machine.ram: {ram} bytes of simulated RAM "
                    f"exceed the per-simulation limit of {lim.max_ram_per_simulation}")
            used = sum(s.ram for s in self.sessions.values()) + self._reserved_ram
            if used + ram > lim.max_total_ram:
                raise se.LimitExceededError(
                    "max_total_ram", f"{ram} more bytes of simulated RAM would exceed the "
                    f"server total of {lim.max_total_ram} ({used} in use)")
            self._reserved_slots += 1
            self._reserved_ram += ram

    def _release(self, ram: int) -> None:
        with self._admit:
            self._reserved_slots -= 1
            self._reserved_ram -= ram

    def _check_plugins(self, names: list[str]) -> tuple[str, ...]:
        from mmsvc.plugins import plugin_manager

        known = {i.name for i in plugin_manager().infos() if not i.error}
        for i, n in enumerate(names):
            if n not in known:
                raise se.RequestError(f"plugins[{i}]", f"no installed plugin {n!r} "
                                                       f"(installed: {', '.join(sorted(known))})")
        return tuple(names)

    def _check_arch(self, desc: Any, plugins: tuple[str, ...]) -> None:
        from mmsvc.arch import collect_architectures
        from mmsvc.plugins import PluginFilter, plugin_manager

        pm = (plugin_manager(plugin_filter=PluginFilter(only=frozenset(plugins)))
              if plugins else plugin_manager())
        arches = collect_architectures(pm)
        if desc.arch not in arches:
            raise se.RequestError("machine.arch", f"no plugin provides architecture "
                                                  f"{desc.arch!r} (known: "
                                                  f"{', '.join(arches.names()) or 'none'})")

    async def _new_session(self, context: Any, inp: SimInput, controller: str,
                           display_name: str, history: list[list[Any]] | None = None,
                           breakpoints: list[Any] | None = None,
                           sid: str | None = None) -> Session:
        desc = inp.description()
        ram = ram_bytes(desc)
        self._admit_new(ram)
        try:
            def build() -> Session:
                s = Session(id=sid or uuid.uuid4().hex[:16], input=inp, controller=controller,
                            display_name=display_name, ram=ram,
                            max_history=self.limits.max_history)
                for item in breakpoints or ():
                    add_snapshot_breakpoint(s.sim, item)
                if history:
                    try:
                        s.replay(history)
                    except MmsvcError as exc:
                        raise se.SnapshotError(f"replay failed: {exc}") from exc
                self._persist(s)
                return s

            session = await self._work(context, None, build)
            with self._admit:
                self.sessions[session.id] = session
            return session
        finally:
            self._release(ram)

    def _state_file(self, sid: str) -> Path | None:
        return self.state_dir / f"{sid}{STATE_SUFFIX}" if self.state_dir else None

    def _persist(self, s: Session) -> None:
        """Write the session's snapshot atomically: tmp file, fsync, rename."""
        path = self._state_file(s.id)
        if path is None or s.deleted:
            return
        data = s.snapshot_dict()
        data["server"] = {"id": s.id, "controller": s.controller,
                          "display_name": s.display_name, "created": s.created}
        tmp = path.with_suffix(path.suffix + f".tmp{threading.get_ident()}")
        with open(tmp, "wb") as f:
            f.write(encode_snapshot(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def _load_state(self) -> None:
        assert self.state_dir is not None
        for tmp in self.state_dir.glob(f"*{STATE_SUFFIX}.tmp*"):
            tmp.unlink(missing_ok=True)
        for path in sorted(self.state_dir.glob(f"*{STATE_SUFFIX}")):
            try:
                data = decode_snapshot(path.read_bytes())
                srv = data.get("server") or {}
                sid = str(srv.get("id") or path.name.removesuffix(STATE_SUFFIX))
                inp = SimInput(data["machine"], data.get("profile"), tuple(data["plugins"]))
                s = Session(id=sid, input=inp, controller=str(srv.get("controller", ANONYMOUS)),
                            display_name=str(srv.get("display_name", "")),
                            ram=ram_bytes(inp.description()),
                            max_history=self.limits.max_history)
                s.created = float(srv.get("created", s.created))
                for item in data["breakpoints"]:
                    add_snapshot_breakpoint(s.sim, item)
                s.replay(data["history"])
                self.sessions[sid] = s
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the server
                log.warning("state-dir: cannot restore %s: %s", path, exc)

    # -- lifecycle RPCs ------------------------------------------------------------

    @rpc
    async def CreateSimulation(self, request: pb.CreateSimulationRequest,  # noqa: N802
                               context: Any) -> pb.CreateSimulationResponse:
        if request.profile and request.profile not in PROFILES:
            raise se.RequestError("profile", f"unknown profile {request.profile!r} "
                                             f"(known: 5.14, 6.1)")
        plugins = self._check_plugins(list(request.plugins))
        try:
            desc = _machine_input(request.machine, self.limits.max_machine_bytes)
        except se.ServiceError:
            raise
        except MmsvcError as exc:
            field = getattr(exc, "field", None)
            if field is not None and not str(field).startswith("machine"):
                raise se.RequestError(f"machine.{field}", getattr(exc, "reason", str(exc))) \
                    from exc
            raise
        self._check_arch(desc, plugins)
        inp = SimInput(desc.to_dict(), request.profile or None, plugins)
        s = await self._new_session(context, inp, self._client(context), request.display_name)
        return pb.CreateSimulationResponse(simulation=self._summary(s))

    @rpc
    async def GetSimulation(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        return pb.GetSimulationResponse(simulation=await self._work(
            context, s, lambda: self._summary(s)))

    @rpc
    async def ListSimulations(self, request: Any, context: Any) -> Any:  # noqa: N802
        client = self._client(context)
        out = []
        for s in sorted(self.sessions.values(), key=lambda s: s.created):
            if s.deleted or (request.only_mine and s.controller != client):
                continue
            out.append(await self._work(context, s, functools.partial(self._summary, s)))
        return pb.ListSimulationsResponse(simulations=out)

    @rpc
    async def DeleteSimulation(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)

        def delete() -> None:
            s.deleted = True
            s.journal.close()
            path = self._state_file(s.id)
            if path is not None:
                path.unlink(missing_ok=True)

        await self._work(context, s, delete)
        with self._admit:
            self.sessions.pop(s.id, None)
        return pb.DeleteSimulationResponse()

    @rpc
    async def ResetSimulation(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)

        def reset() -> pb.Simulation:
            s.reset()
            return self._summary(s)

        return pb.ResetSimulationResponse(simulation=await self._work(context, s, reset,
                                                                      persist=True))

    @rpc
    async def ForkSimulation(self, request: Any, context: Any) -> Any:  # noqa: N802
        src = self._session(_require_id(request))

        def capture() -> tuple[list[list[Any]], list[dict[str, Any]]]:
            return ([list(op) for op in src.history],
                    [bp.to_dict() for bp in src.sim.breakpoints])

        history, bps = await self._work(context, src, capture)
        s = await self._new_session(context, src.input, self._client(context),
                                    request.display_name or src.display_name, history, bps)
        return pb.ForkSimulationResponse(simulation=self._summary(s))

    @rpc
    async def GetCapabilities(self, request: Any, context: Any) -> Any:  # noqa: N802
        if self._caps is None:
            self._caps = await self._work(context, None, self._capabilities)
        return self._caps

    def _capabilities(self) -> pb.GetCapabilitiesResponse:
        from mmsvc.arch import collect_architectures
        from mmsvc.machine import default_machine
        from mmsvc.plugins import plugin_manager

        pm = plugin_manager()
        arches = collect_architectures(pm)
        out = pb.GetCapabilitiesResponse(
            api_version=API_VERSION, server_version=mmsvc_version(), profiles=list(PROFILES),
            granularities=[pb.GRANULARITY_STEP, pb.GRANULARITY_SUBSTEP],
            breakpoint_kinds=[pb.BREAKPOINT_KIND_STEP, pb.BREAKPOINT_KIND_PFN_RANGE,
                              pb.BREAKPOINT_KIND_ALLOCATION_FAILURE,
                              pb.BREAKPOINT_KIND_ZONE_FREE_BELOW,
                              pb.BREAKPOINT_KIND_PLUGIN_REPORT], proc_files=list(_PROC),
            snapshot_version=SNAPSHOT_VERSION)
        for name in arches.names():
            a = arches.get(name)
            out.architectures.add(name=a.name, description=a.description, plugin=a.plugin or "",
                                  zone_names=list(a.zone_names), max_order=a.max_order)
        for info in pm.infos():
            out.plugins.add(name=info.name, distribution=info.distribution or "",
                            version=info.version or "", hooks=list(info.hooks),
                            error=info.error or "",
                            architectures=[n for n in arches.names()
                                           if arches.get(n).plugin == info.name])
        for profile in PROFILES:
            sim = Simulation(default_machine(), profile=profile, pm=pm)
            out.step_names[profile].paths.extend(
                leaf.path for top in sim.steps for leaf in top.leaves())
        lim = self.limits
        out.limits.CopyFrom(pb.Limits(
            max_simulations=lim.max_simulations,
            max_ram_per_simulation=lim.max_ram_per_simulation,
            max_total_ram=lim.max_total_ram, max_message_bytes=lim.max_message_bytes,
            max_batch_size=lim.max_batch_size,
            max_streams_per_client=lim.max_streams_per_client, max_history=lim.max_history))
        return out

    @rpc
    async def ListSteps(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))

        def convert(d: dict[str, Any]) -> pb.StepInfo:
            return pb.StepInfo(name=d["name"], path=d["path"], phase=d["phase"],
                               kind=str(d["kind"]),
                               state=STEP_STATE_PB.get(str(d["state"]), pb.STEP_STATE_UNSPECIFIED),
                               doc=d.get("doc", ""), note=d.get("note", ""),
                               substeps=[convert(x) for x in d.get("substeps", ())])

        steps = await self._work(context, s, s.sim.step_list)
        return pb.ListStepsResponse(steps=[convert(d) for d in steps])

    # -- control RPCs --------------------------------------------------------------

    @rpc
    async def Step(self, request: pb.StepRequest, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        gran = {pb.GRANULARITY_UNSPECIFIED: "substep", pb.GRANULARITY_SUBSTEP: "substep",
                pb.GRANULARITY_STEP: "step"}.get(request.granularity)
        if gran is None:
            raise se.RequestError("granularity", f"unknown value {request.granularity}")
        count = request.count or 1
        if count > self.limits.max_step_count:
            raise se.RequestError("count", f"at most {self.limits.max_step_count}")

        def step(should_stop: Callable[[], None]) -> pb.StopInfo:
            s.check_history_room(2)
            return s.step(gran, count, should_stop)

        stop = await self._work(context, s, step, cancellable=True, persist=True)
        return pb.StepResponse(stop=stop)

    @rpc
    async def RunUntil(self, request: pb.RunUntilRequest, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        until = request.step if request.WhichOneof("target") == "step" else None
        if request.WhichOneof("target") == "step" and not until:
            raise se.RequestError("step", "empty step name")

        def run(should_stop: Callable[[], None]) -> pb.StopInfo:
            s.check_history_room(2)
            if until:
                try:
                    s.sim.find_step(until)
                except MmsvcError as exc:
                    raise se.RequestError("step", str(exc).removeprefix("step: ")) from exc
            return s.run_until(until, request.ignore_breakpoints, should_stop)

        stop = await self._work(context, s, run, cancellable=True, persist=True)
        return pb.RunUntilResponse(stop=stop)

    @rpc
    async def SetBreakpoints(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        wanted: list[Breakpoint] = [breakpoint_from_pb(bp, f"breakpoints[{i}]")
                                    for i, bp in enumerate(request.breakpoints)]

        def apply() -> list[pb.Breakpoint]:
            for i, bp in enumerate(wanted):
                try:
                    s.sim.check_breakpoint(bp)
                except MmsvcError as exc:
                    msg = str(exc)
                    field, prefix = ((f"breakpoints[{i}].zone_free_below.zone", "breakpoint.zone: ")
                                     if msg.startswith("breakpoint.zone:")
                                     else (f"breakpoints[{i}].step.step", "step: "))
                    raise se.RequestError(field, msg.removeprefix(prefix)) from exc
            s.sim.clear_breakpoints()
            for bp in wanted:
                s.sim.breakpoints.append(bp)
            return [breakpoint_to_pb(bp) for bp in s.sim.breakpoints]

        bps = await self._work(context, s, apply, persist=True)
        return pb.SetBreakpointsResponse(breakpoints=bps)

    # -- state queries ---------------------------------------------------------------

    @rpc
    async def GetProcFile(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        name = _PROC.get(request.file)
        if name is None:
            raise se.RequestError("file", "required: one of " + ", ".join(
                pb.ProcFile.Name(k) for k in _PROC))
        from mmsvc import views

        text = await self._work(context, s, lambda: views.render(s.sim, name))
        return pb.GetProcFileResponse(text=text)

    @rpc
    async def GetMemblock(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        paths = set(request.read_mask.paths) if request.HasField("read_mask") else set()
        for p in paths - {"memory", "reserved", "dump"}:
            raise se.RequestError("read_mask", f"unknown path {p!r} (memory, reserved, dump)")
        want = paths or {"memory", "reserved", "dump"}

        def regions(rs: list[Any]) -> list[pb.MemblockRegion]:
            return [pb.MemblockRegion(base=r.base, size=r.size, nid=r.nid, flags=r.flags)
                    for r in rs]

        def query() -> pb.GetMemblockResponse:
            mb = s.sim.mm.memblock
            out = pb.GetMemblockResponse()
            if "memory" in want:
                out.memory.extend(regions(mb.memory()))
            if "reserved" in want:
                out.reserved.extend(regions(mb.reserved()))
            if "dump" in want:
                out.dump = mb.dump()
            return out

        return await self._work(context, s, query)

    @rpc
    async def GetZones(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        zones = await self._work(context, s, s.sim.mm.zones)
        return pb.GetZonesResponse(zones=[pb.Zone(
            nid=z["nid"], name=z["zone"], start_pfn=z["start_pfn"], spanned=z["spanned"],
            present=z["present"], managed=z["managed"], nr_free_pages=z["nr_free_pages"],
            pcp_pages=z["pcp_pages"], min=z["min"], low=z["low"], high=z["high"],
            protection=z["protection"], nr_free=z["nr_free"],
            free_by_type=[pb.FreeByType(migratetype=mt, nr_free=counts)
                          for mt, counts in z["free_by_type"].items()]) for z in zones])

    @rpc
    async def GetMeminfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        from mmsvc import views

        def query() -> pb.GetMeminfoResponse:
            fields = views.meminfo(s.sim)
            return pb.GetMeminfoResponse(
                fields=[pb.MeminfoField(name=k, kb=v) for k, v in fields.items()],
                counters=s.sim.mm.counters())

        return await self._work(context, s, query)

    @rpc
    async def WalkPageTable(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        levels = await self._work(context, s, lambda: s.sim.mm.walk(request.virt))
        return pb.WalkPageTableResponse(levels=[pb.PageTableLevel(**lv) for lv in levels])

    # -- events -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _stream_slot(self, context: Any) -> Any:
        client = self._client(context)
        with self._admit:
            if self._streams.get(client, 0) >= self.limits.max_streams_per_client:
                raise se.LimitExceededError(
                    "max_streams_per_client", f"client {client!r} has "
                    f"{self.limits.max_streams_per_client} streams open (the limit)")
            self._streams[client] = self._streams.get(client, 0) + 1
        try:
            yield
        finally:
            with self._admit:
                self._streams[client] -= 1

    @stream_rpc
    async def StreamEvents(self, request: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        s = self._session(_require_id(request))
        kinds = set(request.kinds)
        with self._stream_slot(context):
            seq = request.from_seq
            wake = asyncio.Event()
            s.journal.add_waiter(wake)
            try:
                while True:
                    wake.clear()
                    batch = s.journal.since(seq)
                    for ev in batch:
                        if not kinds or ev.kind in kinds:
                            yield ev
                        seq = ev.seq + 1
                        if ev.kind == pb.EVENT_KIND_DELETED:
                            return
                    if not request.follow:
                        return
                    if not batch:
                        await wake.wait()
            finally:
                s.journal.remove_waiter(wake)

    # -- allocator ----------------------------------------------------------------------

    @rpc
    async def AllocPages(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        nid = request.nid if request.HasField("nid") else None
        op = ["alloc", request.order, request.gfp or None, nid, request.cpu]
        pfn = await self._work(context, s, lambda: s.do(op), persist=True)
        return pb.AllocPagesResponse(pfn=pfn)

    @rpc
    async def FreePages(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        op = ["free", request.pfn, request.order, request.cpu]
        await self._work(context, s, lambda: s.do(op), persist=True)
        return pb.FreePagesResponse()

    @rpc
    async def Kmalloc(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        op = ["kmalloc", request.size, request.gfp or None, request.cpu]
        addr = await self._work(context, s, lambda: s.do(op), persist=True)
        usable = await self._work(context, s, lambda: s.sim.mm.ksize(addr))
        return pb.KmallocResponse(addr=addr, usable_size=usable)

    @rpc
    async def Kfree(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        op = ["kfree", request.addr, request.cpu]
        await self._work(context, s, lambda: s.do(op), persist=True)
        return pb.KfreeResponse()

    @rpc
    async def Vmalloc(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        op = ["vmalloc", request.size, request.caller or "vmalloc", request.huge]
        addr = await self._work(context, s, lambda: s.do(op), persist=True)
        return pb.VmallocResponse(addr=addr)

    @rpc
    async def Vfree(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        op = ["vfree", request.addr]
        await self._work(context, s, lambda: s.do(op), persist=True)
        return pb.VfreeResponse()

    @rpc
    async def GetSlabCaches(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        rows = await self._work(context, s, lambda: s.sim.mm.slab_caches())
        return pb.GetSlabCachesResponse(caches=[
            pb.SlabCache(name=r[0], active_objs=r[1], num_objs=r[2], objsize=r[3],
                         objperslab=r[4], pagesperslab=r[5], active_slabs=r[6],
                         num_slabs=r[7]) for r in rows])

    @rpc
    async def GetVmallocAreas(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        rows = await self._work(context, s, lambda: s.sim.mm.vmalloc_areas())
        return pb.GetVmallocAreasResponse(areas=[
            pb.VmallocArea(addr=a, size=size, caller=caller, nr_pages=n, flags=f)
            for a, size, caller, n, f in rows])

    @rpc
    async def Translate(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        t = await self._work(context, s, lambda: s.sim.mm.translate(request.virt))
        return pb.TranslateResponse(phys=t["phys"], page_size=t["page_size"], level=t["level"],
                                    flags=list(t["flags"]), entry=t["entry"])

    @rpc
    async def MapRange(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._controlled(request, context)
        if request.length == 0:
            raise se.RequestError("length", "must be positive")
        if request.unmap:
            op: list[Any] = ["unmap", request.virt, request.length]
        else:
            op = ["map", request.virt, request.phys, request.length, list(request.flags),
                  request.page_size]
        await self._work(context, s, lambda: s.do(op), persist=True)
        return pb.MapRangeResponse()

    async def Batch(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        session: Session | None = None
        try:
            self._authenticate(context)
            with self._stream_slot(context):
                async for req in request_iterator:
                    if session is None:
                        session = self._controlled(req, context)
                    elif req.simulation_id != session.id:
                        raise se.RequestError("simulation_id", "every request of a Batch "
                                                               "stream must name the same one")
                    yield await self._one_batch(context, session, req)
        except (MmsvcError, Exception) as exc:  # noqa: B014
            if not isinstance(exc, MmsvcError):
                log.exception("internal error in Batch")
            await context.abort_with_status(se.grpc_status(exc))
        finally:
            if session is not None and self.state_dir is not None:
                # fire and forget: no await here, the stream may be closing
                self.executor.submit(self._persist_locked, session)

    def _persist_locked(self, s: Session) -> None:
        with s.lock:
            try:
                self._persist(s)
            except OSError as exc:
                log.warning("state-dir: cannot write %s: %s", s.id, exc)

    async def _one_batch(self, context: Any, s: Session, req: Any) -> pb.BatchResponse:
        out = pb.BatchResponse(batch_id=req.batch_id)
        try:
            which = req.WhichOneof("op")
            limit = self.limits.max_batch_size
            if which == "alloc":
                a = req.alloc
                if a.count > limit:
                    raise se.LimitExceededError("max_batch_size",
                                                f"alloc.count: at most {limit} blocks a batch")
                op: list[Any] = ["alloc_bulk", a.count, a.order, a.gfp or None, a.cpu]
                pfns = await self._work(context, s, lambda: s.do(op))
                out.pfns.extend(pfns)
                out.count = len(pfns)
            elif which == "free":
                f = req.free
                if len(f.pfns) > limit:
                    raise se.LimitExceededError("max_batch_size",
                                                f"free.pfns: at most {limit} blocks a batch")
                import array
                import base64

                data = base64.b64encode(array.array("Q", f.pfns).tobytes()).decode()
                op = ["free_bulk", data, f.order, f.cpu]
                await self._work(context, s, lambda: s.do(op))
                out.count = len(f.pfns)
            else:
                raise se.RequestError("op", "required: alloc or free")
        except MmsvcError as exc:
            out.status.CopyFrom(se.status_proto(exc))
        return out

    # -- snapshots ------------------------------------------------------------------------

    @rpc
    async def Snapshot(self, request: Any, context: Any) -> Any:  # noqa: N802
        s = self._session(_require_id(request))
        blob = await self._work(context, s, lambda: encode_snapshot(s.snapshot_dict()))
        return pb.SnapshotResponse(snapshot=blob, snapshot_version=SNAPSHOT_VERSION)

    @rpc
    async def Restore(self, request: Any, context: Any) -> Any:  # noqa: N802
        if not request.snapshot:
            raise se.RequestError("snapshot", "required")
        data = decode_snapshot(request.snapshot)
        if len(data["history"]) > self.limits.max_history:
            raise se.LimitExceededError("max_history", f"snapshot: {len(data['history'])} "
                                        f"history entries, the limit is "
                                        f"{self.limits.max_history}")
        try:
            inp = SimInput(data["machine"], data.get("profile"),
                           self._check_plugins(list(data["plugins"])))
            inp.description()
        except MmsvcError as exc:
            raise se.SnapshotError(f"bad machine or plugins: {exc}") from exc
        s = await self._new_session(context, inp, self._client(context), request.display_name,
                                    data["history"], data["breakpoints"])
        return pb.RestoreResponse(simulation=self._summary(s))
