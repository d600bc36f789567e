"""crashkernel= and swiotlb= on x86_64 (arch/x86/kernel/setup.c, kernel/dma/swiotlb.c)."""

from __future__ import annotations

import dataclasses

from mmsvc.machine import default_machine
from mmsvc.simulation import Simulation


def _boot(extra: str) -> Simulation:
    m = default_machine("6.1")  # 4 GiB: 3 GiB below the PCI hole, 1 GiB above 4 GiB
    sim = Simulation(dataclasses.replace(m, cmdline=f"{m.cmdline} {extra}"))
    sim.boot()
    return sim


def _crash_lines(sim: Simulation) -> list[str]:
    return [ln for ln in sim.log.text().splitlines()
            if "crashkernel" in ln and not ln.startswith("Kernel command line")]


def test_plain_size_goes_below_4g():
    assert _crash_lines(_boot("crashkernel=128M")) == [
        "Reserving 128MB of memory at 2928MB for crashkernel (System RAM: 4095MB)"]


def test_high_goes_above_4g_with_its_low_region():
    # the low region: max(the 64 MiB bounce buffer + 8 MiB, 256 MiB), below
    # min(the memory, 4 GiB); the region itself top-down below what NODE_DATA and
    # the early tables took at the top
    assert _crash_lines(_boot("crashkernel=256M,high")) == [
        "Reserving 256MB of low memory at 2800MB for crashkernel (low RAM limit: 4095MB)",
        "Reserving 256MB of memory at 4848MB for crashkernel (System RAM: 4095MB)"]
    # ,low gives its size; 0 means none
    assert _crash_lines(_boot("crashkernel=256M,high crashkernel=64M,low"))[0].startswith(
        "Reserving 64MB of low memory at ")
    assert len(_crash_lines(_boot("crashkernel=256M,high crashkernel=0,low"))) == 1


def test_a_fixed_base_must_be_free():
    # the kernel image sits at 16 MiB
    assert _crash_lines(_boot("crashkernel=64M@16M")) == [
        "crashkernel reservation failed - memory is in use."]
    assert _crash_lines(_boot("crashkernel=64M@512M")) == [
        "Reserving 64MB of memory at 512MB for crashkernel (System RAM: 4095MB)"]


def test_swiotlb_slabs_and_areas():
    # memory above 4 GiB: the bounce buffer is set up; slabs round up to 128
    sim = _boot("swiotlb=1000,4")
    assert "software IO TLB: area num 4." in sim.log.text()
    assert sim.ctx.arch_state["swiotlb"]["size"] == 1024 << 11
    assert "swiotlb" not in _boot("swiotlb=noforce").ctx.arch_state
