"""PCI's memory-mapped configuration space (arch/x86/pci/mmconfig-shared.c
and mmconfig_64.c).

``pci_arch_init`` (an arch_initcall) reads the ACPI MCFG table: each
allocation gives a PCI segment's buses a window of 1 MiB a bus (ECAM).
Early, a window is trusted only if the e820 map reserves it; one that is
not is halved, down to 16 MiB, until the reserved part is found (its bus
range shrinks with it), and if none is, MMCONFIG is not used at all. Each
window kept is then ioremapped whole: an area of the vmalloc space with no
pages of its own, writable (and executable where the CPU has no NX).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsvc.api import BootContext
from mmsvc.machine.e820 import E820_RESERVED

PREFIX = "PCI: "
#: the smallest window is_mmconf_reserved halves down to
MIN_WINDOW = 16 << 20


@dataclass
class MmcfgRegion:
    """``struct pci_mmcfg_region``: one allocation the kernel keeps."""

    segment: int
    start_bus: int
    end_bus: int
    address: int

    @property
    def start(self) -> int:
        return self.address + (self.start_bus << 20)

    @property
    def end(self) -> int:
        return self.address + ((self.end_bus + 1) << 20)

    def res(self) -> str:
        return f"[mem {self.start:#010x}-{self.end - 1:#010x}]"


def _pci_options(ctx: BootContext) -> list[str]:
    return [opt for name, value in ctx.cmdline.params if name == "pci" and value
            for opt in value.split(",")]


def mmconf_probed(ctx: BootContext) -> bool:
    """``PCI_PROBE_MMCONF`` still set and the early pass not skipped:
    ``pci=nommconf`` and ``pci=bios`` clear it, ``pci=noearly`` leaves it
    to the late pass (through ACPI motherboard resources, not simulated)."""
    probe = True
    for opt in _pci_options(ctx):
        if opt in ("nommconf", "bios"):
            probe = False
        elif opt in ("conf1", "conf2"):
            probe = True
    return probe and "noearly" not in _pci_options(ctx)


def e820_mapped_all(table, start: int, end: int, etype: int) -> bool:
    """``e820__mapped_all``: every byte of ``[start, end)`` in entries of
    *etype* (the table sorted, as the kernel keeps it)."""
    for e in table:
        if e.type != etype or e.addr + e.size <= start or e.addr >= end:
            continue
        if e.addr > start:
            return False
        start = e.addr + e.size
        if start >= end:
            return True
    return start >= end


def _reserved(ctx: BootContext, cfg: MmcfgRegion, table) -> bool:
    """``is_mmconf_reserved`` with the e820 check: print and keep the
    window, shrunk to its reserved part if it had to be halved."""
    size = old_size = cfg.end - cfg.start
    while not e820_mapped_all(table, cfg.start, cfg.start + size, E820_RESERVED):
        size >>= 1
        if size < MIN_WINDOW:
            break
    if size < MIN_WINDOW and size != old_size:
        return False
    ctx.pr_info(f"{PREFIX}MMCONFIG at {cfg.res()} reserved in E820")
    if size != old_size:
        cfg.end_bus = cfg.start_bus + (size >> 20) - 1
        ctx.pr_info(f"{PREFIX}MMCONFIG for {cfg.segment:04x} [bus{cfg.start_bus:02x}-"
                    f"{cfg.end_bus:02x}] at {cfg.res()} (base {cfg.address:#x}) (size reduced!)")
    return True


def pci_mmcfg_early_init(ctx: BootContext) -> None:
    """Parse the MCFG table, keep its windows if e820 reserves them, and
    map each (``pci_mmcfg_arch_map``)."""
    fw = ctx.machine.firmware
    allocations = getattr(fw, "mcfg", ())
    if not allocations or ctx.cmdline.get("acpi") == "off" or not mmconf_probed(ctx):
        return
    tables = getattr(fw, "acpi_tables", ())
    if tables and not any(t.signature == "MCFG" for t in tables):
        return
    regions = []
    for a in allocations:
        cfg = MmcfgRegion(a.segment, a.start_bus, a.end_bus, a.address)
        ctx.pr_info(f"{PREFIX}MMCONFIG for domain {cfg.segment:04x} [bus {cfg.start_bus:02x}-"
                    f"{cfg.end_bus:02x}] at {cfg.res()} (base {cfg.address:#x})")
        regions.append(cfg)
    regions.sort(key=lambda r: (r.segment, r.start_bus))
    table = ctx.arch_state["e820"]
    for cfg in regions:
        if not _reserved(ctx, cfg, table):
            ctx.pr_info(f"{PREFIX}not using MMCONFIG")
            return
    ctx.arch_state["pci_mmcfg"] = [
        (cfg, ctx.mm.ioremap(cfg.start, cfg.end - cfg.start, caller="pci_mmcfg_arch_map"))
        for cfg in regions]
