"""kernelcore= / movablecore= on a booted machine: ZONE_MOVABLE end to end."""

from __future__ import annotations

import pytest

from mmsvc.errors import MachineConfigError, MmsvcError
from mmsvc.simulation import Simulation

from .conftest import boot_default


def _boot(cmdline: str, profile: str = "6.1") -> Simulation:
    return boot_default(cmdline, profile)


def _zone(sim: Simulation, name: str) -> dict:
    return next(z for z in sim.mm.zones() if z["zone"] == name)


@pytest.mark.parametrize("profile", ["5.14", "6.1"])
def test_movablecore_makes_a_movable_zone_at_the_top(profile):
    # the default machine: 3 GiB below 4 GiB, 1 GiB above (all Normal)
    sim = _boot("movablecore=512M", profile)
    text = sim.log.text()
    assert "Movable zone start for each node\n  Node 0: 0x0000000120000000\n" in text
    normal, movable = _zone(sim, "Normal"), _zone(sim, "Movable")
    assert (normal["start_pfn"], normal["spanned"]) == (0x100000, 0x20000)
    assert (movable["start_pfn"], movable["spanned"], movable["present"]) == (0x120000,) + (
        0x20000,) * 2


def test_movable_allocations_use_it_and_kernel_ones_do_not():
    sim = _boot("kernelcore=1G")  # DMA+DMA32 already hold 3 GiB: all of Normal moves
    assert _zone(sim, "Normal")["spanned"] == 0
    movable = _zone(sim, "Movable")
    pfn = sim.mm.alloc_pages(0, gfp="GFP_HIGHUSER_MOVABLE")
    assert movable["start_pfn"] <= pfn < movable["start_pfn"] + movable["spanned"]
    kernel = sim.mm.alloc_pages(0, gfp="GFP_KERNEL")
    assert kernel < 0x100000
    sim.mm.free_pages(pfn, 0)
    sim.mm.free_pages(kernel, 0)


def test_percentages():
    sim = _boot("kernelcore=50%")
    assert "Movable zone start for each node\n  Node 0: " in sim.log.text()


@pytest.mark.parametrize("profile", ["5.14", "6.1"])
def test_kernelcore_mirror_without_mirrored_memory(profile):
    # nothing is mirrored: memory from 4 GiB up is movable, the kernel keeps
    # the unmirrored memory below 4 GiB and says so; movablecore= is ignored
    sim = _boot("kernelcore=mirror movablecore=100M", profile)
    text = sim.log.text()
    assert ("This configuration results in unmirrored kernel memory.\nZone ranges:\n" in text)
    assert "Movable zone start for each node\n  Node 0: 0x0000000100000000\n" in text
    assert _zone(sim, "Normal")["spanned"] == 0
    movable = _zone(sim, "Movable")
    assert (movable["start_pfn"], movable["present"]) == (0x100000, 0x40000)


def test_kernelcore_mirror_refuses_memory_left_in_no_zone():
    # one range crosses 4 GiB and another starts above it: the kernel would
    # leave 4..5 GiB outside every zone
    with pytest.raises(MmsvcError) as ei:
        _boot("kernelcore=mirror memmap=exactmap memmap=640K@0 memmap=5G@1M memmap=2G@6G")
    assert "kernelcore=mirror" in str(ei.value) and "node 0" in str(ei.value)


def test_uml_builds_its_zones_before_the_early_parameters():
    # UML runs free_area_init in setup_arch and parse_early_param only after
    # it: kernelcore=/movablecore= there move nothing (a real boot shows it)
    from pathlib import Path

    from mmsvc.machine import from_dmesg

    log = Path(__file__).parent / "realboots" / "uml-host-300M-mix3.log"
    machine = from_dmesg(str(log)).replace(profile="6.1")
    assert "movablecore=50M" in machine.cmdline
    sim = Simulation(machine)
    sim.boot()
    text = sim.log.text()
    assert "Movable zone start for each node\nEarly memory node ranges\n" in text
    mirror = Simulation(machine.replace(cmdline=machine.cmdline + " kernelcore=mirror"))
    mirror.boot()
    assert "unmirrored" not in mirror.log.text()


def _hotplug_machine(extra: str, hotplug: bool):
    import dataclasses

    from mmsvc.machine import NumaNode, default_machine

    gib = 1 << 30
    m = default_machine("6.1")
    numa = (NumaNode(0, ((0, 0xA0000), (0x100000, 3 * gib)), (0,)),
            NumaNode(1, ((4 * gib, 5 * gib),), (1,),
                     hotplug=((4 * gib, 5 * gib),) if hotplug else ()))
    return dataclasses.replace(m, numa=numa, cpus=2, cmdline=f"{m.cmdline} {extra}".strip())


def test_movable_node_moves_the_memory_the_srat_marks_hotpluggable():
    sim = Simulation(_hotplug_machine("movable_node", True))
    sim.boot()
    text = sim.log.text()
    assert "ACPI: SRAT: Node 1 PXM 1 [mem 0x100000000-0x13fffffff] hotplug\n" in text
    # memblock keeps off hotpluggable memory: node 1's pgdat lives on node 0
    assert "NODE_DATA(1) on node 0" in text
    assert "Movable zone start for each node\n  Node 1: 0x0000000100000000\n" in text
    movable = next(z for z in sim.mm.zones() if z["zone"] == "Movable" and z["nid"] == 1)
    assert movable["managed"] > 0.99 * (1 << 18)
    # without movable_node the flag changes nothing; without the flag nothing moves
    for machine in (_hotplug_machine("", True), _hotplug_machine("movable_node", False)):
        other = Simulation(machine)
        other.boot()
        assert "Movable zone start for each node\nEarly memory node ranges" in other.log.text()


def test_hotplug_flag_round_trips_through_a_description():
    from mmsvc.machine import MachineDescription

    m = _hotplug_machine("", True)
    again = MachineDescription.from_dict(m.to_dict())
    assert again.numa[1].hotplug == m.numa[1].hotplug
    data = m.to_dict()
    data["numa"][1]["ranges"][0]["hotplug"] = "yes"
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(data)
    assert ei.value.field.endswith("ranges[0].hotplug")
