"""PCI's memory-mapped configuration space (arch/x86/pci/mmconfig-shared.c
and mmconfig_64.c).

``pci_arch_init`` (an arch_initcall) reads the ACPI MCFG table: each
allocation gives a PCI segment's buses a window of 1 MiB a bus (ECAM).
Early, a window is trusted only if the e820 map reserves it; one that is
not is halved, down to 16 MiB, until the reserved part is found (its bus
range shrinks with it), and if none is, MMCONFIG is not used then. When
the early pass failed or was skipped (``pci=noearly``), ``acpi_init`` tries
again: the table is read anew and a window is trusted if an ACPI
motherboard device (PNP0C01/PNP0C02) claims it whole, else if e820 reserves
it. Each window kept is then ioremapped whole: an area of the vmalloc
space with no pages of its own, writable (and executable where the CPU has
no NX).
"""

from __future__ import annotations

from dataclasses import replace

from mmsvc.api import BootContext
from mmsvc.machine.description import McfgAllocation
from mmsvc.machine.e820 import E820_RESERVED, all_mapped
from mmsvc_x86_64.acpi import acpi_disabled

PREFIX = "PCI: "
#: the smallest window is_mmconf_reserved halves down to
MIN_WINDOW = 16 << 20


def _res(cfg: McfgAllocation) -> str:
    """``%pR`` of the window."""
    start, end = cfg.window
    return f"[mem {start:#010x}-{end - 1:#010x}]"


def _pci_options(ctx: BootContext) -> list[str]:
    return [opt for name, value in ctx.cmdline.params if name == "pci" and value
            for opt in value.split(",")]


def pci_probe(ctx: BootContext) -> tuple[bool, bool]:
    """``PCI_PROBE_MMCONF`` and ``PCI_PROBE_NOEARLY`` after the ``pci=``
    options in order: ``off``, ``conf1``, ``conf2`` and ``nommconf`` clear
    the first (``bios`` is 32-bit only), ``noearly`` sets the second."""
    probe, noearly = True, False
    for opt in _pci_options(ctx):
        if opt in ("off", "conf1", "conf2", "nommconf"):
            probe = False
        elif opt == "noearly":
            noearly = True
    return probe, noearly


def _acpi_reserved(ctx: BootContext, start: int, end: int) -> bool:
    """``is_acpi_reserved``: a motherboard device claims ``[start, end)`` whole."""
    return any(r.start <= start and end <= r.end
               for r in ctx.machine.firmware.motherboard_resources)


def _reserved(ctx: BootContext, cfg: McfgAllocation, is_reserved,
              method: str) -> McfgAllocation | None:
    """``is_mmconf_reserved``: print and keep the window, shrunk to its
    reserved part if it had to be halved (None: not reserved)."""
    start, end = cfg.window
    size = old_size = end - start
    while not is_reserved(start, start + size):
        size >>= 1
        if size < MIN_WINDOW:
            break
    if size < MIN_WINDOW and size != old_size:
        return None
    ctx.pr_info(f"{PREFIX}MMCONFIG at {_res(cfg)} reserved in {method}")
    if size != old_size:
        cfg = replace(cfg, end_bus=cfg.start_bus + (size >> 20) - 1)
        ctx.pr_info(f"{PREFIX}MMCONFIG for {cfg.segment:04x} [bus{cfg.start_bus:02x}-"
                    f"{cfg.end_bus:02x}] at {_res(cfg)} (base {cfg.address:#x}) (size reduced!)")
    return cfg


def _check_reserved(ctx: BootContext, cfg: McfgAllocation, early: bool) -> McfgAllocation | None:
    """``pci_mmcfg_check_reserved``: late, the motherboard resources first;
    then e820."""
    if not early:
        kept = _reserved(ctx, cfg, lambda s, e: _acpi_reserved(ctx, s, e),
                         "ACPI motherboard resources")
        if kept is not None:
            return kept
        ctx.pr_info(f"[Firmware Info]: {PREFIX}MMCONFIG at {_res(cfg)} not reserved in "
                    "ACPI motherboard resources")
    table = ctx.arch_state["e820"]
    return _reserved(ctx, cfg, lambda s, e: all_mapped(table, s, e, E820_RESERVED), "E820")


def _mmcfg_init(ctx: BootContext, early: bool) -> bool:
    """Parse the MCFG table (``pci_parse_mcfg``), keep its windows if they
    are reserved (``pci_mmcfg_reject_broken``) and map each
    (``pci_mmcfg_arch_map``). False when MMCONFIG is not used."""
    fw = ctx.machine.firmware
    if fw.acpi_tables and not any(t.signature == "MCFG" for t in fw.acpi_tables):
        return False
    if not fw.mcfg:
        return False
    for cfg in fw.mcfg:
        ctx.pr_info(f"{PREFIX}MMCONFIG for domain {cfg.segment:04x} [bus {cfg.start_bus:02x}-"
                    f"{cfg.end_bus:02x}] at {_res(cfg)} (base {cfg.address:#x})")
    kept = []
    for cfg in sorted(fw.mcfg, key=lambda r: (r.segment, r.start_bus)):
        checked = _check_reserved(ctx, cfg, early)
        if checked is None:
            ctx.pr_info(f"{PREFIX}not using MMCONFIG")
            return False
        kept.append(checked)
    ctx.arch_state["pci_mmcfg"] = [
        (cfg, ctx.mm.ioremap(cfg.window[0], cfg.window[1] - cfg.window[0],
                             caller="pci_mmcfg_arch_map"))
        for cfg in kept]
    return True


def _wanted(ctx: BootContext) -> bool:
    """A CONFIG_PCI_MMCONFIG kernel with ACPI on and MMCONFIG probed."""
    probe, _noearly = pci_probe(ctx)
    return ctx.kconfig.pci_mmconfig and not acpi_disabled(ctx) and probe


def pci_mmcfg_early_init(ctx: BootContext) -> None:
    """``pci_arch_init``'s early pass (unless ``pci=noearly``)."""
    if not _wanted(ctx) or pci_probe(ctx)[1]:
        return
    ctx.arch_state["pci_mmcfg_early"] = _mmcfg_init(ctx, early=True)


def pci_mmcfg_late_init(ctx: BootContext) -> None:
    """``acpi_init``'s second chance, when the early pass did not enable
    MMCONFIG."""
    if not _wanted(ctx) or ctx.arch_state.get("pci_mmcfg_early"):
        return
    _mmcfg_init(ctx, early=False)
