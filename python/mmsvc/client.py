"""A small synchronous client of the mmsvc gRPC service.

    from mmsvc.client import Client

    with Client("127.0.0.1:50051", client_id="alice") as c:
        sim = c.create()                      # the default machine, paused
        c.run_until(sim.simulation_id, step="mem_init")
        print(c.proc(sim.simulation_id, "buddyinfo"))

Errors come back as :class:`RemoteError` (an :class:`mmsvc.errors.MmsvcError`)
carrying the status code, the ErrorInfo reason, the mmsvc exception class the
server raised, and the fields a BadRequest named.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc

from mmsvc.errors import MmsvcError
from mmsvc.v1 import simulation_service_pb2 as pb
from mmsvc.v1 import simulation_service_pb2_grpc as pb_grpc

#: default deadlines (seconds), as documented in the proto
QUERY_TIMEOUT = 10.0
WORK_TIMEOUT = 60.0

_PROC = {"buddyinfo": pb.PROC_FILE_BUDDYINFO, "pagetypeinfo": pb.PROC_FILE_PAGETYPEINFO,
         "zoneinfo": pb.PROC_FILE_ZONEINFO, "meminfo": pb.PROC_FILE_MEMINFO,
         "slabinfo": pb.PROC_FILE_SLABINFO, "vmallocinfo": pb.PROC_FILE_VMALLOCINFO}


class RemoteError(MmsvcError):
    """A failed RPC: ``code`` (grpc.StatusCode), ``reason`` (ErrorInfo reason),
    ``exception`` (the mmsvc error class name on the server), ``fields`` (the
    BadRequest field names), ``metadata`` (ErrorInfo metadata)."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "",
                 metadata: dict[str, str] | None = None, fields: list[str] | None = None,
                 preconditions: list[str] | None = None) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.exception = self.metadata.get("exception", "")
        self.fields = list(fields or [])
        self.preconditions = list(preconditions or [])

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> RemoteError:
        from grpc_status import rpc_status

        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        message = err.details() if hasattr(err, "details") else str(err)
        status = rpc_status.from_call(err) if hasattr(err, "trailing_metadata") else None
        return cls.from_status(code, message or "", status.details if status else [])

    @classmethod
    def from_status(cls, code: grpc.StatusCode, message: str,
                    details: Iterable[Any]) -> RemoteError:
        """From a status code, message and ``google.rpc.Status.details``."""
        from google.rpc import error_details_pb2

        reason, metadata, fields, pre = "", {}, [], []
        for d in details:
            if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                d.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                d.Unpack(br)
                fields = [v.field for v in br.field_violations]
            elif d.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                pf = error_details_pb2.PreconditionFailure()
                d.Unpack(pf)
                pre = [v.type for v in pf.violations]
        return cls(code, message, reason, metadata, fields, pre)


def _code_of(status_code: int) -> grpc.StatusCode:
    for c in grpc.StatusCode:
        if c.value[0] == status_code:
            return c
    return grpc.StatusCode.UNKNOWN


class Client:
    """One connection to a server; ``client_id`` names this client (its
    simulations are the ones it controls); ``token`` is the bearer token;
    ``tls=True`` (system roots) or ``root_certificates`` (PEM) use TLS."""

    def __init__(self, addr: str, *, client_id: str | None = None, token: str | None = None,
                 tls: bool = False, root_certificates: bytes | None = None,
                 channel: grpc.Channel | None = None) -> None:
        self.addr = addr
        self.client_id = client_id or f"client-{uuid.uuid4().hex[:12]}"
        if channel is None and (tls or root_certificates):
            channel = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates))
        self._channel = channel or grpc.insecure_channel(addr)
        self.stub = pb_grpc.SimulationServiceStub(self._channel)
        self._metadata = [("mmsvc-client-id", self.client_id)]
        if token:
            self._metadata.append(("authorization", f"Bearer {token}"))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any, timeout: float | None = QUERY_TIMEOUT) -> Any:
        """Call an RPC by name with this client's metadata; errors as RemoteError."""
        try:
            return getattr(self.stub, method)(request, timeout=timeout,
                                              metadata=self._metadata)
        except grpc.RpcError as err:
            raise RemoteError.from_rpc_error(err) from None

    # -- lifecycle -------------------------------------------------------------

    def create(self, machine: str | Path | None = None, *, toml: str | None = None,
               json: str | None = None, dmesg: str | None = None, profile: str = "",
               plugins: Iterable[str] = (), display_name: str = "") -> pb.Simulation:
        """Create a simulation (the default machine unless a source is given).
        ``machine`` may be a path to a .toml/.json description read here."""
        src = pb.MachineSource()
        if machine is not None:
            p = Path(machine)
            text = p.read_text()
            if p.suffix == ".json":
                json = text
            else:
                toml = text
        if toml is not None:
            src.toml = toml
        elif json is not None:
            src.json = json
        elif dmesg is not None:
            src.dmesg = dmesg
        else:
            src.default_machine = True
        req = pb.CreateSimulationRequest(machine=src, profile=profile, plugins=list(plugins),
                                         display_name=display_name)
        return self.call("CreateSimulation", req, WORK_TIMEOUT).simulation

    def get(self, sim_id: str) -> pb.Simulation:
        return self.call("GetSimulation", pb.GetSimulationRequest(simulation_id=sim_id)).simulation

    def list(self, only_mine: bool = False) -> builtins.list[pb.Simulation]:
        return builtins.list(self.call("ListSimulations",
                              pb.ListSimulationsRequest(only_mine=only_mine)).simulations)

    def delete(self, sim_id: str) -> None:
        self.call("DeleteSimulation", pb.DeleteSimulationRequest(simulation_id=sim_id))

    def reset(self, sim_id: str) -> pb.Simulation:
        return self.call("ResetSimulation", pb.ResetSimulationRequest(simulation_id=sim_id),
                         WORK_TIMEOUT).simulation

    def fork(self, sim_id: str, display_name: str = "") -> pb.Simulation:
        return self.call("ForkSimulation", pb.ForkSimulationRequest(
            simulation_id=sim_id, display_name=display_name), WORK_TIMEOUT).simulation

    def capabilities(self) -> pb.GetCapabilitiesResponse:
        return self.call("GetCapabilities", pb.GetCapabilitiesRequest(), WORK_TIMEOUT)

    def steps(self, sim_id: str) -> builtins.list[pb.StepInfo]:
        r = self.call("ListSteps", pb.ListStepsRequest(simulation_id=sim_id))
        return builtins.list(r.steps)

    # -- control ---------------------------------------------------------------

    def step(self, sim_id: str, granularity: str = "substep", count: int = 1,
             timeout: float | None = WORK_TIMEOUT) -> pb.StopInfo:
        gran = pb.GRANULARITY_STEP if granularity == "step" else pb.GRANULARITY_SUBSTEP
        return self.call("Step", pb.StepRequest(simulation_id=sim_id, granularity=gran,
                                                count=count), timeout).stop

    def run_until(self, sim_id: str, step: str | None = None, *,
                  ignore_breakpoints: bool = False,
                  timeout: float | None = WORK_TIMEOUT) -> pb.StopInfo:
        req = pb.RunUntilRequest(simulation_id=sim_id, ignore_breakpoints=ignore_breakpoints)
        if step:
            req.step = step
        else:
            req.boot_complete = True
        return self.call("RunUntil", req, timeout).stop

    def boot(self, sim_id: str) -> pb.StopInfo:
        """Run the rest of the boot ignoring breakpoints (Simulation.boot)."""
        return self.run_until(sim_id, ignore_breakpoints=True)

    def set_breakpoints(self, sim_id: str,
                        breakpoints: Iterable[tuple[str, str] | str | pb.Breakpoint]
                        ) -> builtins.list[pb.Breakpoint]:
        """Breakpoints as step names, ``(step, "entry"|"exit")`` pairs or messages."""
        out = []
        for bp in breakpoints:
            if isinstance(bp, pb.Breakpoint):
                out.append(bp)
                continue
            step, when = (bp, "entry") if isinstance(bp, str) else bp
            out.append(pb.Breakpoint(kind=pb.BREAKPOINT_KIND_STEP, step=pb.StepCondition(
                step=step, when=pb.BREAKPOINT_WHEN_EXIT if when == "exit"
                else pb.BREAKPOINT_WHEN_ENTRY)))
        return builtins.list(self.call("SetBreakpoints", pb.SetBreakpointsRequest(
            simulation_id=sim_id, breakpoints=out)).breakpoints)

    # -- state -------------------------------------------------------------------

    def proc(self, sim_id: str, name: str) -> str:
        """The text of /proc/<name> (buddyinfo, pagetypeinfo, zoneinfo, meminfo)."""
        f = _PROC.get(name, pb.PROC_FILE_UNSPECIFIED)
        return self.call("GetProcFile", pb.GetProcFileRequest(simulation_id=sim_id,
                                                              file=f)).text

    def memblock(self, sim_id: str, fields: Iterable[str] = ()) -> pb.GetMemblockResponse:
        req = pb.GetMemblockRequest(simulation_id=sim_id)
        if fields:
            req.read_mask.paths.extend(fields)
        return self.call("GetMemblock", req)

    def zones(self, sim_id: str) -> builtins.list[pb.Zone]:
        return builtins.list(self.call("GetZones", pb.GetZonesRequest(simulation_id=sim_id)).zones)

    def meminfo(self, sim_id: str) -> dict[str, int]:
        r = self.call("GetMeminfo", pb.GetMeminfoRequest(simulation_id=sim_id))
        return {f.name: f.kb for f in r.fields}

    def walk(self, sim_id: str, virt: int) -> builtins.list[pb.PageTableLevel]:
        return builtins.list(self.call("WalkPageTable", pb.WalkPageTableRequest(
            simulation_id=sim_id, virt=virt)).levels)

    def events(self, sim_id: str, from_seq: int = 0, follow: bool = False,
               kinds: Iterable[Any] = (), timeout: float | None = None
               ) -> Iterator[pb.StreamEventsResponse]:
        """The simulation's events from ``from_seq``; with ``follow`` the
        iterator waits for new ones (cancel it with ``.cancel()`` on the call)."""
        call = self.stub.StreamEvents(pb.StreamEventsRequest(
            simulation_id=sim_id, from_seq=from_seq, follow=follow, kinds=list(kinds)),
            timeout=timeout, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.CANCELLED:
                return
            raise RemoteError.from_rpc_error(err) from None
        finally:
            call.cancel()

    # -- allocator ------------------------------------------------------------------

    def alloc_pages(self, sim_id: str, order: int = 0, gfp: str = "", nid: int | None = None,
                    cpu: int = 0) -> int:
        req = pb.AllocPagesRequest(simulation_id=sim_id, order=order, gfp=gfp, cpu=cpu)
        if nid is not None:
            req.nid = nid
        return self.call("AllocPages", req).pfn

    def free_pages(self, sim_id: str, pfn: int, order: int = 0, cpu: int = 0) -> None:
        self.call("FreePages", pb.FreePagesRequest(simulation_id=sim_id, pfn=pfn, order=order,
                                                   cpu=cpu))

    def kmalloc(self, sim_id: str, size: int, gfp: str = "", cpu: int = 0) -> int:
        return self.call("Kmalloc", pb.KmallocRequest(simulation_id=sim_id, size=size, gfp=gfp,
                                                      cpu=cpu)).addr

    def kfree(self, sim_id: str, addr: int, cpu: int = 0) -> None:
        self.call("Kfree", pb.KfreeRequest(simulation_id=sim_id, addr=addr, cpu=cpu))

    def vmalloc(self, sim_id: str, size: int, caller: str = "", huge: bool = False) -> int:
        return self.call("Vmalloc", pb.VmallocRequest(simulation_id=sim_id, size=size,
                                                      caller=caller, huge=huge)).addr

    def vfree(self, sim_id: str, addr: int) -> None:
        self.call("Vfree", pb.VfreeRequest(simulation_id=sim_id, addr=addr))

    def slab_caches(self, sim_id: str) -> builtins.list[pb.SlabCache]:
        return builtins.list(self.call("GetSlabCaches", pb.GetSlabCachesRequest(
            simulation_id=sim_id)).caches)

    def vmalloc_areas(self, sim_id: str) -> builtins.list[pb.VmallocArea]:
        return builtins.list(self.call("GetVmallocAreas", pb.GetVmallocAreasRequest(
            simulation_id=sim_id)).areas)

    def translate(self, sim_id: str, virt: int) -> pb.TranslateResponse:
        return self.call("Translate", pb.TranslateRequest(simulation_id=sim_id, virt=virt))

    def map_range(self, sim_id: str, virt: int, phys: int, length: int,
                  flags: Iterable[str] = (), page_size: int = 0) -> None:
        self.call("MapRange", pb.MapRangeRequest(simulation_id=sim_id, virt=virt, phys=phys,
                                                 length=length, flags=list(flags),
                                                 page_size=page_size))

    def unmap_range(self, sim_id: str, virt: int, length: int) -> None:
        self.call("MapRange", pb.MapRangeRequest(simulation_id=sim_id, virt=virt,
                                                 length=length, unmap=True))

    def batch(self, requests: Iterable[pb.BatchRequest]) -> Iterator[pb.BatchResponse]:
        """The bidirectional Batch stream: one response per request, in order.
        A failed batch has a non-zero ``status.code``; see :func:`batch_error`."""
        try:
            yield from self.stub.Batch(iter(requests), metadata=self._metadata)
        except grpc.RpcError as err:
            raise RemoteError.from_rpc_error(err) from None

    # -- snapshots ---------------------------------------------------------------------

    def snapshot(self, sim_id: str) -> bytes:
        return self.call("Snapshot", pb.SnapshotRequest(simulation_id=sim_id)).snapshot

    def restore(self, blob: bytes, display_name: str = "") -> pb.Simulation:
        return self.call("Restore", pb.RestoreRequest(snapshot=blob, display_name=display_name),
                         WORK_TIMEOUT).simulation


def batch_error(resp: pb.BatchResponse) -> RemoteError | None:
    """The error of a failed batch response, or None."""
    if resp.status.code == 0:
        return None
    return RemoteError.from_status(_code_of(resp.status.code), resp.status.message,
                                   resp.status.details)
