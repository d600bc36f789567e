"""Condition breakpoints: pfn range touched, allocation failure, zone free
pages below N, a debug plugin's report."""

from __future__ import annotations

import pytest

from mmsvc import hookimpl
from mmsvc.errors import InvalidArgumentError, OutOfMemoryError
from mmsvc.machine import default_machine, from_dmesg
from mmsvc.simulation import Breakpoint, Simulation, StopReason


def x86():
    return Simulation(default_machine().replace(profile="6.1"))


def test_pfn_range_stops_after_the_step_that_touched_it():
    sim = x86()
    bp = sim.add_breakpoint(kind="pfn_range", start_pfn=0, end_pfn=1 << 40)
    stop = sim.run()
    assert stop.reason is StopReason.BREAKPOINT and stop.breakpoint is bp
    # boot frees are not allocator operations: the first is the vmalloc preallocation
    assert stop.last == "mem_init/preallocate_vmalloc_pages"


def test_zone_free_below_stops_once_the_zones_exist():
    sim = x86()
    sim.add_breakpoint(kind="zone_free_below", nid=0, zone="DMA32", pages=10**9)
    assert sim.run().last == "setup_arch/paging_init"
    with pytest.raises(InvalidArgumentError, match="breakpoint.zone"):
        sim.add_breakpoint(kind="zone_free_below", zone="HighMem", pages=1)


class Hog:
    @hookimpl
    def mmsvc_after_step(self, ctx, step):
        if step.name == "vmalloc_init":
            try:
                while True:
                    ctx.mm.alloc_pages(order=10)
            except OutOfMemoryError:
                pass


def test_allocation_failure_stops_the_run(dmesg_dir):
    sim = Simulation(from_dmesg(str(dmesg_dir / "uml-32M.log")).replace(profile="6.1"),
                     plugins=[("hog", Hog())])
    sim.add_breakpoint(kind="allocation_failure", min_order=9)
    stop = sim.run()
    assert stop.reason is StopReason.BREAKPOINT and stop.last == "vmalloc_init"


class Reporter:
    @hookimpl
    def mmsvc_after_step(self, ctx, step):
        if step.name == "kmem_cache_init":
            ctx.report("fakefence", "out-of-bounds read at 0xffff888000001000")


def test_plugin_report_stops_and_is_logged():
    sim = Simulation(default_machine(), plugins=[("fakefence", Reporter())])
    sim.add_breakpoint(kind="plugin_report", plugin="fakefence")
    stop = sim.run()
    assert stop.last == "kmem_cache_init"
    assert "fakefence: out-of-bounds read at 0xffff888000001000" in sim.log.text()
    assert sim.ctx.reports[-1].step == "kmem_cache_init"


def test_breakpoints_as_plain_data():
    bp = Breakpoint(kind="pfn_range", start_pfn=0x100, end_pfn=0x200)
    assert bp.to_dict() == {"kind": "pfn_range", "start_pfn": 0x100, "end_pfn": 0x200}
    assert Breakpoint.from_dict(bp.to_dict()) == bp
    with pytest.raises(InvalidArgumentError, match="empty"):
        Breakpoint(kind="pfn_range", start_pfn=5, end_pfn=5)
    with pytest.raises(InvalidArgumentError, match="kind"):
        Breakpoint(kind="sometimes")
    with pytest.raises(InvalidArgumentError, match="breakpoint.pages"):
        Breakpoint.from_dict({"kind": "pfn_range", "start_pfn": 1, "end_pfn": 2, "pages": 3})
