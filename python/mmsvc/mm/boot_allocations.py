"""The boot's other allocations: what a build allocates besides the rules
the simulation models, between kmem_cache_init and the BPF JIT's first pack.

Between mm_init and the first BPF pack the kernel makes some 700 page
allocations on one CPU: the slab pages of every cache it starts using (the
trace events' fields and files, kernfs nodes, task structs, ...), the stacks
of its first kthreads, the trace ring buffers. Which ones is a property of
the build, not of the machine, so the catalogue records them for a build
(``python/mmsvc/machine/boot_allocations/RELEASE.toml``, made by
``tools/realboot/trace`` from a trace of that build booting): kernel
function by kernel function, each tied to the simulation step it runs next
to, with its page allocations in order (order, GFP flags, count) and the
memory policy of the task that makes them: the boot task interleaves over
the nodes from numa_policy_init (pid 0 until rest_init, kernel_init until
the end of kernel_init_freeable); kthreadd and its kthreads allocate on
their CPU's node. The simulation makes them as page allocations of that
order and migratetype, before or after its step; where they lie shapes the
free lists the BPF pack's pages come from, and so the DirectMap lines.

A build without a record, or another profile than the record's build,
makes none. The record is of a one-CPU boot, plus (``per_cpu`` calls) what
a second CPU's bring-up adds: its idle task, its per-CPU kthreads and its
trace ring buffers, made once for every CPU after the first, plus
(``per_node`` calls) what the first CPU of a node adds: workqueue's unbound
pool on that node. Those the
kernel places on the new CPU's node (the idle task's and the kthreads'
task structs and stacks, the ring buffers) have the policy "cpu" and go to
that CPU's node (``cpu_to_node``); "local" is the node of the CPU kthreadd
runs on (:func:`kthreadd_cpu`), whose per-cpu lists they come from. A
slab page for a request naming no node first asks the policy where SLUB
would search the other nodes' partial slabs (``mempolicy_slab_node``),
which moves an interleave on. A slab row records the traced boot's slabs
with the cache's object size: :func:`slabs_here` turns them into this
machine's, whose SLUB orders grow with its CPUs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mmsvc.boot.context import BootContext
from mmsvc.errors import OutOfMemoryError
from mmsvc.machine import kernels
from mmsvc.units import PAGE_SIZE

TABLES = Path(__file__).resolve().parent.parent / "machine" / "boot_allocations"
POLICIES = ("interleave", "local", "cpu")


@dataclass(frozen=True)
class Allocation:
    """``count`` allocations of ``2**order`` pages with ``gfp``, by a task
    whose memory policy is ``policy``; ``what``: what they are for."""

    order: int
    gfp: int
    count: int
    policy: str
    what: str
    #: a slab page's cache object size (``s->size``; 0: not a slab or unknown)
    size: int = 0

    @property
    def is_slab(self) -> bool:
        return self.what.startswith("slab ")


@dataclass(frozen=True)
class Call:
    """A kernel function's allocations, made ``when`` (``"before"`` or
    ``"after"``) the simulation's step ``step``; ``per_cpu``: what each CPU
    after the boot CPU adds, made once for each CPU smp_init brings up."""

    function: str
    when: str
    step: str
    allocations: tuple[Allocation, ...]
    per_cpu: bool = False
    #: what a node's first CPU adds as it comes up, made once for each node
    #: smp_init brings its first CPU up on, on that node
    per_node: bool = False

    @property
    def pages(self) -> int:
        return sum(a.count << a.order for a in self.allocations)


def _call(d: dict[str, Any], where: str) -> Call:
    anchors = [k for k in ("before", "after") if k in d]
    if len(anchors) != 1 or not isinstance(d.get("function"), str):
        raise ValueError(f"{where}: a call needs a function and one of before/after")
    allocations = []
    for i, a in enumerate(d.get("allocations", ())):
        alloc = Allocation(int(a["order"]), int(a["gfp"]), int(a["count"]), str(a["policy"]),
                           str(a.get("what", "")), int(a.get("size", 0)))
        if alloc.policy not in POLICIES or not 0 <= alloc.order < 11 or alloc.count < 1 \
                or not 0 <= alloc.size <= PAGE_SIZE << alloc.order:
            raise ValueError(f"{where}.allocations[{i}]: bad allocation {a!r}")
        allocations.append(alloc)
    per_cpu, per_node = bool(d.get("per_cpu", False)), bool(d.get("per_node", False))
    if per_cpu and per_node:
        raise ValueError(f"{where}: a call is per CPU or per node, not both")
    return Call(d["function"], anchors[0], str(d[anchors[0]]), tuple(allocations),
                per_cpu, per_node)


@cache
def recorded(release: str) -> tuple[Call, ...]:
    """The recorded calls of the build *release* (none without a record)."""
    path = TABLES / f"{release}.toml"
    if "/" in release or not path.is_file():
        return ()
    data = tomllib.loads(path.read_text())
    return tuple(_call(c, f"{path.name}: call[{i}]") for i, c in enumerate(data.get("call", ())))


def calls_for(ctx: BootContext) -> tuple[Call, ...]:
    """What this boot makes: the build's record when the profile is the
    build's own."""
    build = kernels.find(ctx.machine.kernel.release, ctx.machine.arch)
    if build is None or build.profile != ctx.profile:
        return ()
    return recorded(build.release)


def make(ctx: BootContext, call: Call) -> None:
    """Make *call*'s allocations; the pages stay allocated. A machine too
    small for them stops at the first that fails."""
    mm = ctx.mm
    made = 0
    if call.per_cpu:
        cpus: list[int] | range = range(1, ctx.online_cpus())
    elif call.per_node:
        cpus = first_cpus_of_nodes(ctx)
    else:
        cpus = range(1)
    local_cpu = kthreadd_cpu(ctx)
    sized = [(a, *slabs_here(ctx, a)) for a in call.allocations]
    try:
        for cpu in cpus:
            for a, order, count in sized:
                if a.policy == "interleave":
                    nid, pcp = -1, 0        # -1: the task's policy (the boot task's)
                elif a.policy == "cpu":
                    # a node's first CPU sets its node up itself (cpuhp)
                    nid, pcp = ctx.cpu_to_node(cpu), cpu if call.per_node else 0
                else:
                    nid, pcp = ctx.cpu_to_node(local_cpu), local_cpu
                # a new slab for a request naming no node: SLUB asks the
                # policy where to search for partial slabs first
                slab = nid == -1 and a.is_slab
                for _ in range(count):
                    if slab:
                        mm.mempolicy_slab_node(pcp)
                    mm.alloc_pages(order, gfp=a.gfp, nid=nid, cpu=pcp)
                    made += 1 << order
    except OutOfMemoryError:
        pass
    key = (f"{call.function} (per CPU)" if call.per_cpu else
           f"{call.function} (per node)" if call.per_node else call.function)
    ctx.results.setdefault("boot_allocations", {})[key] = made


def slabs_here(ctx: BootContext, a: Allocation) -> tuple[int, int]:
    """The order and count of *a*'s pages on this machine. A slab row
    records the traced boot's slabs; SLUB's order for a cache grows with the
    CPUs (calculate_order), and the same objects then fill fewer, larger
    slabs."""
    if not a.size:
        return a.order, a.count
    order = ctx.mm.slab_order(a.size)
    traced, here = (PAGE_SIZE << a.order) // a.size, (PAGE_SIZE << order) // a.size
    return order, max(1, -(-a.count * traced // here))


def first_cpus_of_nodes(ctx: BootContext) -> list[int]:
    """The CPUs smp_init brings up that are the first online CPU of their
    node (workqueue then sets up that node's unbound pool)."""
    seen = {ctx.cpu_to_node(0)}
    first = []
    for cpu in range(1, ctx.online_cpus()):
        if ctx.cpu_to_node(cpu) not in seen:
            seen.add(ctx.cpu_to_node(cpu))
            first.append(cpu)
    return first


def kthreadd_cpu(ctx: BootContext) -> int:
    """The CPU kthreadd and its new kthreads run on: the boot CPU until
    smp_init; once the others are up kernel_init keeps the boot CPU busy and
    their wakeups find the next CPU idle."""
    return 1 if ctx.g.num_online_cpus > 1 else 0

