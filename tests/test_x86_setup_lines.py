"""Lines setup_arch and the early initcalls print from the memory map and
the CPUs (every real boot of tests/realboots compares them): the PCI gap,
the CPUs brought up, the memory block size."""

from __future__ import annotations

import dataclasses

from mmsvc.machine import default_machine
from mmsvc.machine.e820 import E820Entry
from mmsvc.simulation import Simulation

GiB = 1 << 30


def _lines(machine, start: str) -> list[str]:
    sim = Simulation(machine)
    sim.boot()
    return [r.text for r in sim.log.records if r.text.startswith(start) or start in r.text]


def _with_e820(entries):
    m = default_machine("6.1")
    return m.replace(firmware=dataclasses.replace(m.firmware, e820=tuple(entries)))


def test_the_pci_gap_is_the_largest_hole_below_4g():
    assert _lines(default_machine("6.1"), "available for PCI devices") == [
        "[mem 0xc0000000-0xfeffbfff] available for PCI devices"]
    # RAM up to 4 GiB leaves no 4 MiB hole: the kernel complains and
    # puts the window above memory
    full = _with_e820([E820Entry(0, 0x9FC00, 1), E820Entry(0x100000, 4 * GiB - 0x100000, 1)])
    sim = Simulation(full)
    sim.boot()
    text = sim.log.text()
    assert "Cannot find an available gap in the 32-bit address range" in text
    assert "[mem 0x100100000-0x1004fffff] available for PCI devices" in text


def test_the_cpus_brought_up():
    m = default_machine("6.1")
    assert _lines(m, "smp: Brought up") == ["smp: Brought up 1 node, 2 CPUs"]
    one = m.replace(cmdline=m.cmdline + " maxcpus=1")
    assert _lines(one, "smp: Brought up") == ["smp: Brought up 1 node, 1 CPU"]


def test_memory_block_size_from_64_gib_on():
    small = default_machine("6.1")
    assert _lines(small, "Memory block size") == ["x86/mm: Memory block size: 128MB"]
    big = _with_e820([E820Entry(0, 0x9FC00, 1), E820Entry(0x100000, 3 * GiB - 0x100000, 1),
                      E820Entry(4 * GiB, 62 * GiB, 1)])  # ends at 66 GiB
    assert _lines(big, "Memory block size") == ["x86/mm: Memory block size: 2048MB"]
    odd = _with_e820([E820Entry(0, 0x9FC00, 1), E820Entry(0x100000, 3 * GiB - 0x100000, 1),
                      E820Entry(4 * GiB, 61 * GiB, 1)])  # ends at 65 GiB: 1 GiB aligned
    assert _lines(odd, "Memory block size") == ["x86/mm: Memory block size: 1024MB"]
    bare = odd.replace(cpu_features=dataclasses.replace(odd.cpu_features, hypervisor=False))
    assert _lines(bare, "Memory block size") == ["x86/mm: Memory block size: 2048MB"]
