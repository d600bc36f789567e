"""The Simulation: paused start, stepping, breakpoints, hooks, after boot."""

from __future__ import annotations

import pytest

from mmsvc import hookimpl
from mmsvc.errors import InvalidArgumentError, InvalidStateError, PluginError
from mmsvc.machine import default_machine, from_dmesg
from mmsvc.simulation import Simulation, StopReason


def x86(profile="6.1"):
    return Simulation(default_machine().replace(profile=profile))


def test_created_paused_before_setup_arch():
    sim = x86()
    assert not sim.done and len(sim.log) == 0
    assert sim.next_step.path.startswith("setup_arch/")
    assert all(s["state"] == "pending" for s in sim.step_list())


def test_substep_and_step_granularity():
    sim = x86()
    first = sim.step("substep")
    assert first.reason is StopReason.STEPPED
    assert sim.find_step("setup_arch").state == "running"
    sim.step("step")  # the rest of setup_arch
    assert sim.find_step("setup_arch").state == "done"
    assert sim.next_step.name == "setup_command_line"
    assert "Zone ranges:" in sim.log.text()


def test_run_until_and_breakpoints():
    sim = x86()
    stop = sim.run(until="mem_init")
    assert stop.reason is StopReason.UNTIL and stop.next == "mem_init/pci_iommu_alloc"
    text = sim.log.text()
    assert "mem auto-init:" in text and "Memory:" not in text
    sim.add_breakpoint("mem_init_print_info", when="exit")
    stop = sim.run()
    assert stop.reason is StopReason.BREAKPOINT
    assert stop.last == "mem_init_print_info"
    assert sim.log.text().rstrip().splitlines()[-1].startswith("Memory:")
    assert sim.run().reason is StopReason.BOOT_COMPLETE
    with pytest.raises(InvalidStateError):
        sim.step()


def test_unknown_step_names_the_steps():
    sim = x86()
    with pytest.raises(InvalidArgumentError, match="no step named 'mem_int'"):
        sim.add_breakpoint("mem_int")


def test_profiles_follow_their_kernel():
    names_514 = [s["name"] for s in x86("5.14").step_list()]
    names_61 = [s["name"] for s in x86("6.1").step_list()]
    assert names_514.index("page_ext_init_flatmem_late") < names_514.index("kmem_cache_init")
    assert names_61.index("kmem_cache_init") < names_61.index("page_ext_init_flatmem_late")
    assert "stack_depot_init" in names_514 and "stack_depot_early_init" in names_61
    # 5.14 always takes the 8 MiB stack depot table from memblock
    a, b = x86("5.14"), x86("6.1")
    a.boot()
    b.boot()
    ra = a.ctx.results["mem_init_print_info"]["reserved_kb"]
    rb = b.ctx.results["mem_init_print_info"]["reserved_kb"]
    assert ra - rb >= 8192


def test_uml_mem_init_statements(dmesg_dir):
    sim = Simulation(from_dmesg(str(dmesg_dir / "uml-32M.log")).replace(profile="6.1"))
    sim.run(until="mem_init")
    subs = [s.name for s in sim.find_step("mem_init").substeps]
    assert subs == ["zero_empty_zero_page", "round_brk_end", "map_memory", "memblock_free",
                    "memblock_free_all", "max_low_pfn", "kmalloc_ok"]
    while sim.next_step.name != "kmalloc_ok":
        assert not sim.ctx.g.kmalloc_ok
        sim.step()
    sim.step()
    assert sim.ctx.g.kmalloc_ok
    assert sim.ctx.g.max_low_pfn == sim.ctx.g.max_pfn == sim.mm.totalram_pages()
    assert sim.ctx.arch_state["uml_reserved"] == sim.ctx.arch_state["brk_end"]
    sim.boot()
    assert sim.find_step("init_espfix_bsp").state == "skipped"
    assert sim.find_step("pti_init").state == "skipped"


def test_uml_too_little_memory_stops_the_boot(dmesg_dir):
    """mem= plus the host's exec-shield gap must exceed what the image and
    its reserve take, or the host side gives up (as on a real host with a
    322588672-byte gap and mem=16M)."""
    import dataclasses

    from mmsvc.errors import MachineConfigError

    m = from_dmesg(str(dmesg_dir / "uml-32M.log"))
    m = dataclasses.replace(m, cmdline=m.cmdline.replace("mem=32M", "mem=16M"),
                            firmware=dataclasses.replace(m.firmware, physmem=16 << 20,
                                                         exec_shield_gap=322588672))
    sim = Simulation(m)
    with pytest.raises(MachineConfigError) as ei:
        sim.boot()
    assert ei.value.field == "cmdline.mem"
    assert sim.log.text().splitlines()[-1] == \
        "Too few physical memory! Needed=339738624, given=339365888"


class Recorder:
    def __init__(self):
        self.calls = []
        self.events = []

    @hookimpl
    def mmsvc_before_step(self, ctx, step):
        self.calls.append(("before", step.path))

    @hookimpl
    def mmsvc_after_step(self, ctx, step):
        self.calls.append(("after", step.path))

    @hookimpl(wrapper=True)
    def mmsvc_step_wrapper(self, ctx, step):
        self.calls.append(("enter", step.path))
        result = yield
        self.calls.append(("exit", step.path))
        return result

    @hookimpl
    def mmsvc_page_event(self, ctx, event):
        self.events.append(event)


def test_step_hooks_and_page_events():
    rec = Recorder()
    sim = Simulation(default_machine().replace(profile="6.1"), plugins=[("rec", rec)])
    sim.boot()
    leaves = [leaf.path for top in sim.steps for leaf in top.leaves()]
    befores = [p for kind, p in rec.calls if kind == "before"]
    assert befores == leaves
    i = rec.calls.index(("before", "mem_init_print_info"))
    assert rec.calls[i:i + 4] == [("before", "mem_init_print_info"),
                                  ("enter", "mem_init_print_info"),
                                  ("exit", "mem_init_print_info"),
                                  ("after", "mem_init_print_info")]
    allocs = [e for e in rec.events if e.kind == "alloc"]
    # preallocate_vmalloc_pages: one p4d page per PGD entry of vmalloc space (5-level: 50)
    assert len(allocs) >= 50 and all(e.order == 0 for e in allocs[:50])
    assert sim.ctx.arch_state["vmalloc_prealloc_pages"] == 50


class Exploder:
    @hookimpl
    def mmsvc_after_step(self, ctx, step):
        if step.name == "report_meminit":
            raise RuntimeError("kaboom")


def test_raising_plugin_is_named_and_state_kept():
    sim = Simulation(default_machine(), plugins=[("exploder", Exploder())])
    with pytest.raises(PluginError, match="'exploder' raised in hook mmsvc_after_step") as err:
        sim.boot()
    assert err.value.plugin == "exploder"
    assert sim.find_step("report_meminit").state == "failed"
    assert "mem auto-init" in sim.log.text()


def test_machine_usable_after_boot():
    sim = x86()
    sim.boot()
    pfn = sim.mm.alloc_pages(order=4, gfp="GFP_KERNEL")
    assert sim.mm.allocated_order(pfn) == 4
    sim.mm.free_pages(pfn, 4)
    assert "Node 0, zone" in sim.mm.buddyinfo()


class SlabWatcher:
    def __init__(self):
        self.events = []

    @hookimpl
    def mmsvc_slab_event(self, ctx, event):
        self.events.append(event)


def test_slab_events_reach_plugins_after_kmem_cache_init():
    watcher = SlabWatcher()
    sim = Simulation(default_machine(), plugins=[("watcher", watcher)])
    sim.boot()
    addr = sim.mm.kmalloc(100)
    sim.mm.kfree(addr)
    assert sim.flush_events() == 2
    assert [(e.kind, e.cache, e.addr) for e in watcher.events[-2:]] == [
        ("alloc", "kmalloc-128", addr), ("free", "kmalloc-128", addr)]


class VmallocWatcher:
    def __init__(self):
        self.events = []

    @hookimpl
    def mmsvc_vmalloc_event(self, ctx, event):
        self.events.append(event)


def test_vmalloc_events_reach_plugins():
    watcher = VmallocWatcher()
    sim = Simulation(default_machine().replace(profile="6.1"), plugins=[("vw", watcher)])
    sim.boot()
    addr = sim.mm.vmalloc(8192, caller="probe")
    sim.mm.vfree(addr)
    sim.flush_events()
    assert [(e.kind, e.caller, e.addr) for e in watcher.events[-2:]] == [
        ("alloc", "probe", addr), ("free", "probe", addr)]


def test_early_page_ext_turns_deferred_struct_page_init_off_in_61():
    def available(profile: str, cmdline: str) -> int:
        m = default_machine(profile)
        sim = Simulation(m.replace(cmdline=m.cmdline + cmdline))
        sim.boot()
        line = next(x for x in sim.log.text().splitlines() if x.startswith("Memory:"))
        return int(line.split()[1].split("K/")[0])

    assert available("6.1", " early_page_ext") > available("6.1", "")
    assert available("5.14", " early_page_ext") == available("5.14", "")
