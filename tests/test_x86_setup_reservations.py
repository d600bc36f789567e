"""crashkernel=, swiotlb= and the initrd's place on x86_64 (arch/x86/kernel/setup.c,
kernel/dma/swiotlb.c)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mmsvc.machine import default_machine, from_dmesg
from mmsvc.machine.description import Initrd
from mmsvc.simulation import Simulation

from .conftest import boot_default


def _boot(extra: str) -> Simulation:
    return boot_default(extra)


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


def test_an_initrd_outside_ram_moves_into_mapped_memory():
    """memmap=exactmap can leave the boot loader's initrd outside RAM:
    reserve_initrd copies it to the top of mapped memory and gives the old
    place back; the copy is what boot frees at the end."""
    base = dataclasses.replace(default_machine("6.1"), initrd=Initrd(0xBFEE4000, 0xFBBE7))
    m = dataclasses.replace(base, cmdline=f"{base.cmdline} memmap=exactmap memmap=636K@4K "
                                          "memmap=1G@1M memmap=2G@4G")
    sim = Simulation(m)
    sim.boot()
    lines = [ln for ln in sim.log.text().splitlines() if "RAMDISK" in ln or "initrd" in ln]
    assert lines[0] == "RAMDISK: [mem 0xbfee4000-0xbffdffff]"
    assert lines[1].startswith("Allocated new RAMDISK: [mem 0x17ff")
    assert lines[2].startswith("Move RAMDISK from [mem 0xbfee4000-0xbffdfbe6] to [mem 0x17ff")
    assert lines[3] == "Freeing initrd memory: 1008K"
    assert 4 << 30 <= sim.ctx.arch_state["initrd"][0] < 6 << 30
    # in RAM, nothing moves
    plain = Simulation(base)
    plain.boot()
    assert plain.ctx.arch_state["initrd"] == (0xBFEE4000, 0xFBBE7)
    assert "Allocated new RAMDISK" not in plain.log.text()


def test_a_moved_initrd_is_described_where_the_boot_loader_put_it():
    """The first RAMDISK line is the boot loader's place; relocate_initrd's
    "Move RAMDISK" line gives the exact size; "Allocated new RAMDISK" is
    what the kernel did, not the machine."""
    path = Path(__file__).parent / "realboots" / "pc-6g-holes.log"
    d = from_dmesg(path.read_text(errors="replace"))
    assert d.initrd is not None
    assert (d.initrd.start, d.initrd.size) == (0xBFEE4000, 0xFBBE7)


def test_crashkernel_ranges_match_the_memory_rounded_up_to_128m():
    # 4095 MiB of RAM: 6.1 matches "4G-" (rounded up to 4096 MiB), 5.14 "2G-4G"
    line = "crashkernel=2G-4G:64M,4G-:128M"
    assert _crash_lines(boot_default(line))[0].startswith("Reserving 128MB of memory")
    assert _crash_lines(boot_default(line, "5.14"))[0].startswith("Reserving 64MB of memory")
    # an entry whose size is not below the memory makes the option invalid
    assert _crash_lines(boot_default("crashkernel=1G-:8G")) == []
