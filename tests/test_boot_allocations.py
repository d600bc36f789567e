"""The boot's other allocations (mmsvc.mm.boot_allocations): a build's
recorded page allocations between kmem_cache_init and the BPF JIT's first
pack, made next to the steps they run beside."""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmsvc.errors import InvalidArgumentError
from mmsvc.machine import default_machine
from mmsvc.mm import boot_allocations
from mmsvc.simulation import Simulation

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "tools" / "realboot" / "trace"
RELEASE = "6.1.0-56-amd64"


def _booted(machine, monkeypatch=None, record=True):
    if not record:
        monkeypatch.setattr(boot_allocations, "calls_for", lambda ctx: ())
    sim = Simulation(machine)
    sim.boot()
    return sim


def _free(sim) -> int:
    return sum(z["nr_free_pages"] + z["pcp_pages"] for z in sim.mm.zones())


def test_the_generic_build_has_a_record_tied_to_real_steps():
    calls = boot_allocations.recorded(RELEASE)
    assert sum(c.pages for c in calls) > 400
    assert {"trace_init", "rest_init", "workqueue_init", "sock_init"} <= {c.function for c in calls}
    sim = Simulation(default_machine("6.1"))
    names = {leaf.name for leaf in sim.leaves}
    assert {c.step for c in calls} <= names
    assert boot_allocations.recorded("6.1.0-99-custom") == ()


def test_the_record_is_made_as_page_allocations_at_its_steps(monkeypatch):
    machine = default_machine("6.1")
    assert machine.kernel.release == RELEASE
    sim = _booted(machine)
    made = sim.ctx.results["boot_allocations"]
    calls = boot_allocations.recorded(RELEASE)
    others = sim.ctx.online_cpus() - 1
    assert others > 0

    def pages(call):
        return sum(count << order for order, count in
                   (boot_allocations.slabs_here(sim.ctx, a) for a in call.allocations))

    nodes = len(boot_allocations.first_cpus_of_nodes(sim.ctx))

    def key(c):
        return (f"{c.function} (per CPU)" if c.per_cpu else
                f"{c.function} (per node)" if c.per_node else c.function)

    assert made == {key(c): pages(c) * (others if c.per_cpu else nodes if c.per_node else 1)
                    for c in calls}
    plain = _booted(machine, monkeypatch, record=False)
    # free pages, those on the per-cpu lists too; where the BPF pack then
    # lands can split one direct-map page more or less (a page table page)
    taken = _free(plain) - _free(sim)
    assert abs(taken - sum(made.values())) <= 2
    # the step says what it makes besides its own work
    ftrace = next(leaf for leaf in sim.leaves if leaf.name == "ftrace_init")
    assert "trace_init" in ftrace.doc and "early_irq_init" in ftrace.doc


def test_kthreads_allocate_locally_and_the_boot_task_interleaves():
    calls = {c.function: c for c in boot_allocations.recorded(RELEASE)}
    # before rest_init resets it, the boot task interleaves; kthreads do not
    assert {a.policy for a in calls["trace_init"].allocations} == {"interleave"}
    assert {a.policy for a in calls["workqueue_init"].allocations} >= {"local"}
    rest = calls["rest_init"].allocations
    assert rest[0].policy == "interleave" and rest[-1].policy == "local"  # kthreadd's stack
    # a second CPU's idle task and per-CPU kthreads: on that CPU's node
    bringup = calls["bringup_nonboot_cpus"].allocations
    assert {a.what for a in bringup if a.policy == "cpu"} >= {
        "thread stack", "slab task_struct", "rb_allocate_cpu_buffer"}


def test_each_cpu_after_the_first_adds_its_bring_up():
    per_cpu = [c for c in boot_allocations.recorded(RELEASE) if c.per_cpu]
    assert {c.function for c in per_cpu} == {"idle_threads_init", "bringup_nonboot_cpus"}
    one = _booted(default_machine("6.1").replace(cpus=1))
    four = _booted(default_machine("6.1").replace(cpus=4))
    made_on_one = one.ctx.results["boot_allocations"]
    assert made_on_one.get("bringup_nonboot_cpus (per CPU)", 0) == 0
    pages = sum(c.pages for c in per_cpu)
    assert four.ctx.results["boot_allocations"]["bringup_nonboot_cpus (per CPU)"] + \
        four.ctx.results["boot_allocations"]["idle_threads_init (per CPU)"] == 3 * pages


def _node_pages(sim, step: str) -> dict[int, int]:
    """Pages each node gives while the step *step* runs (with its calls)."""
    sim.run(until=step)
    sim.mm.set_event_recording(True)
    sim.mm.drain_events()
    sim.step()
    out: dict[int, int] = {}
    for kind, _pfn, order, _gfp, nid, _zone in sim.mm.drain_events():
        if kind == "alloc":
            out[nid] = out.get(nid, 0) + (1 << order)
    return out


def test_a_cpus_bring_up_goes_to_its_node_and_later_kthreads_to_the_next_cpus():
    """fork_idle, kthreadd forking the new CPU's kthreads and the CPU's ring
    buffers place their pages on the new CPU's node ("cpu"); after smp_init
    kthreadd and its kthreads run on the next CPU, so "local" is its node."""
    from mmsvc.machine import NumaNode

    gib = 1 << 30
    numa = (NumaNode(0, ((0, 0xA0000), (0x100000, 3 * gib)), (0,)),
            NumaNode(1, ((4 * gib, 5 * gib),), (1,)))
    machine = default_machine("6.1").replace(numa=numa, cpus=2)
    calls = {c.function: c for c in boot_allocations.recorded(RELEASE)}
    on_new_cpu = sum(a.count << a.order for c in calls.values() if c.per_cpu
                     for a in c.allocations if a.policy == "cpu")
    assert on_new_cpu > 0
    sim = Simulation(machine)
    by_node = _node_pages(sim, "smp_init")
    assert sim.ctx.g.cpu_to_node == (0, 1) and sim.ctx.g.num_online_cpus == 2
    assert by_node.get(1, 0) >= on_new_cpu
    late = calls["page_alloc_init_late"].allocations
    assert {a.policy for a in late} >= {"local"}
    local = sum(a.count << a.order for a in late if a.policy == "local")
    by_node = _node_pages(sim, "page_alloc_init_late")
    assert by_node.get(1, 0) >= local
    # CPU 1 is node 1's first: workqueue's unbound pool for node 1, made there
    assert boot_allocations.first_cpus_of_nodes(sim.ctx) == [1]
    per_node = next(c for c in calls.values() if c.per_node)
    assert per_node.function == "wq_update_unbound_numa"
    assert sim.ctx.results["boot_allocations"]["wq_update_unbound_numa (per node)"] > 0
    # with the other CPU left offline everything local stays on the boot CPU's node
    one = Simulation(machine.replace(cmdline=f"{machine.cmdline} maxcpus=1"))
    assert _node_pages(one, "page_alloc_init_late").get(1, 0) < local


def test_slab_rows_take_this_machines_slab_orders():
    """The record's slab rows are the traced one-CPU boot's slabs; SLUB's
    order for a cache grows with the CPUs (kmalloc-512: one page on one CPU,
    two from two CPUs on), and the same objects fill fewer, larger slabs."""
    rows = [a for c in boot_allocations.recorded(RELEASE) if not c.per_cpu
            for a in c.allocations if a.what.startswith("slab ")]
    assert rows and all(a.size for a in rows)
    k512 = next(a for a in rows if a.what == "slab kmalloc-512")
    assert (k512.order, k512.size) == (0, 512)
    one = _booted(default_machine("6.1").replace(cpus=1))
    two = _booted(default_machine("6.1").replace(cpus=2))
    assert all(boot_allocations.slabs_here(one.ctx, a) == (a.order, a.count) for a in rows)
    assert boot_allocations.slabs_here(two.ctx, k512) == (1, 1)
    assert two.mm.slab_order(512) == 1 and one.mm.slab_order(512) == 0
    with pytest.raises(InvalidArgumentError, match="size"):
        two.mm.slab_order(0)
    many = boot_allocations.Allocation(0, 0, 5, "interleave", "slab kmalloc-512", 512)
    assert boot_allocations.slabs_here(two.ctx, many) == (1, 3)  # 40 objects, 16 a slab
    with pytest.raises(ValueError, match="allocations\\[0\\]"):
        boot_allocations._call({"function": "x", "after": "y", "allocations": [
            {"order": 0, "gfp": 0, "count": 1, "policy": "local", "size": 8192}]},
            "t.toml: call[0]")


def test_another_profile_or_build_makes_none():
    sim = Simulation(default_machine("6.1").replace(profile="5.14"))
    sim.boot()
    assert "boot_allocations" not in sim.ctx.results
    sim = Simulation(default_machine("5.14"))
    sim.boot()
    assert "boot_allocations" not in sim.ctx.results


def test_a_bad_record_is_refused_by_name():
    with pytest.raises(ValueError, match="call\\[0\\]"):
        boot_allocations._call({"function": "x"}, "t.toml: call[0]")
    with pytest.raises(ValueError, match="allocations\\[0\\]"):
        boot_allocations._call({"function": "x", "after": "y", "allocations": [
            {"order": 0, "gfp": 0, "count": 1, "policy": "sideways"}]}, "t.toml: call[0]")
    with pytest.raises(ValueError, match="per CPU or per node"):
        boot_allocations._call({"function": "x", "after": "y", "per_cpu": True,
                                "per_node": True}, "t.toml: call[0]")


def test_the_record_is_what_the_committed_trace_says():
    """tools/realboot/trace/boot_allocations.py turns the committed trace of
    the build into the catalogue's table, byte for byte."""
    out = subprocess.run([sys.executable, str(TRACE / "boot_allocations.py"),
                          str(TRACE / "pc-2g-smp1.jsonl.gz"), RELEASE,
                          str(TRACE / "pc-2g-smp2.jsonl.gz"), str(TRACE / "pc-4g-2node.jsonl.gz")],
                         capture_output=True, text=True, check=True).stdout
    assert out == (boot_allocations.TABLES / f"{RELEASE}.toml").read_text()


def test_the_two_node_trace_shows_slab_runs_and_bring_ups_on_the_cpus_node():
    """A trace of the fixtures' two-node machine (pc, 4 GiB, one CPU on each
    node): the boot task's interleaved slab pages come in long runs on one
    node (SLUB asks the policy once more before each new slab), and every
    bring-up allocation the generator calls "cpu" is on CPU 1's node."""
    sys.path.insert(0, str(TRACE))
    try:
        import boot_allocations as generator
    finally:
        sys.path.remove(str(TRACE))
    with gzip.open(TRACE / "pc-4g-2node.jsonl.gz", "rt") as fh:
        events = [json.loads(line) for line in fh]
    node1 = 0x80000  # node 1 starts at 2 GiB
    phase, slab_nodes, on_new_cpu = "early", [], []
    for e in events:
        kind = e.get("ev")
        if kind == "phase":
            phase = e["name"] if e["comm"] in ("swapper", "swapper/0") else phase
            continue
        if kind == "pack_entry":
            break
        if kind not in ("alloc", "bulk"):
            continue
        frames = generator._strip(e["frames"])
        if kind == "alloc" and e["comm"].startswith("swapper") and \
                {"alloc_slab_page", "alloc_page_interleave"} <= set(frames):
            slab_nodes.append(e["nid"])
        if phase in generator.PER_CPU and generator.for_new_cpu(phase, e):
            on_new_cpu += [p >= node1 for p in ([e["pfn"]] if kind == "alloc" else e["pfns"])]
    runs = 1 + sum(a != b for a, b in itertools.pairwise(slab_nodes))
    assert len(slab_nodes) > 50 and runs < len(slab_nodes) // 10
    assert len(on_new_cpu) > 20 and all(on_new_cpu)
