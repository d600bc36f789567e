"""A UML boot too small for its own memory map (mem=20M): the kernel panics
in free_area_init before printing its command line. The log still states
the machine (its memory node range is mem= plus the exec-shield gap), and
the simulation stops at the same allocation, with a typed error naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmsvc.errors import OutOfMemoryError
from mmsvc.machine import from_dmesg
from mmsvc.simulation import Simulation

LOG = Path(__file__).parent / "panicked" / "uml-host-20M.log"


def test_the_machine_comes_from_the_node_range():
    m = from_dmesg(str(LOG))
    assert m.arch == "um"
    assert m.firmware.physmem == 20 << 20
    # the zone and node lines printed before the panic are the simulation's too
    sim = Simulation(m.replace(profile="6.1"))
    with pytest.raises(OutOfMemoryError):
        sim.boot()
    text = sim.log.text()
    for line in ("  Normal   [mem 0x0000000000000000-0x0000000095ecefff]",
                 "  node   0: [mem 0x0000000000000000-0x0000000035ecefff]"):
        assert line in text


def test_it_fails_at_the_allocation_the_kernel_panicked_on():
    panic = re.search(r"Failed to allocate (\d+) bytes for node 0 memory map",
                      LOG.read_text(errors="replace"))
    assert panic
    sim = Simulation(from_dmesg(str(LOG)).replace(profile="6.1"))
    with pytest.raises(OutOfMemoryError, match=f"{panic.group(1)} bytes"):
        sim.boot()
