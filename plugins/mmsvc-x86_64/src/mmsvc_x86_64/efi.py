"""A machine booted through UEFI: what x86's EFI code does with the
firmware's memory map and tables at boot (arch/x86/platform/efi/efi.c,
quirks.c, drivers/firmware/efi/efi.c, memattr.c, efi-bgrt.c), and the
boot loader's setup_data (arch/x86/kernel/setup.c, e820.c).

The firmware's boot-services code and data stay reserved through
``mem_init`` (the Memory line counts them as reserved), and are given back
at ``arch_initcall`` time ("Freeing EFI boot services memory"), unless
``efi=debug`` keeps them for debugfs. Where the firmware's map and tables
lie changes what memblock hands out after them.
"""

from __future__ import annotations

import dataclasses

from mmsvc.api import (
    KERN_ERR,
    KERN_WARNING,
    PAGE_SIZE,
    SMP_CACHE_BYTES,
    BootContext,
    div_round_up,
    round_down,
    round_up,
)
from mmsvc.machine import e820 as e820mod
from mmsvc.machine.efi import (
    EFI_BOOT_SERVICES_DATA,
    EFI_MEMORY_RUNTIME,
    EFI_RUNTIME_SERVICES_DATA,
    MEMATTR_HEADER_SIZE,
    EfiFirmware,
    EfiMemoryDescriptor,
    format_typeattr,
)
from mmsvc_x86_64 import efi_virtmap
from mmsvc_x86_64.acpi import acpi_disabled

SZ_1M = 1 << 20


def firmware(ctx: BootContext) -> EfiFirmware | None:
    """The EFI firmware the machine booted through, if any."""
    return getattr(ctx.machine.firmware, "efi", None)


def _state(ctx: BootContext) -> dict:
    """The boot's EFI state: its working memory map (``memmap``, whose
    entries the kernel splits and tags), and the EFI_* facts it sets."""
    return ctx.arch_state.setdefault("efi", {})


def efi_debug(ctx: BootContext) -> bool:
    return "debug" in ctx.cmdline.efi_options


def memblock_x86_reserve_range_setup_data(ctx: BootContext) -> None:
    """Each setup_data, its header included, is reserved early."""
    for x in getattr(ctx.machine.firmware, "setup_data", ()):
        ctx.mm.memblock.reserve(x.address, x.size,
                                caller="memblock_x86_reserve_range_setup_data")


def e820__reserve_setup_data(ctx: BootContext) -> None:
    """The setup_data ranges become RESERVED_KERN in e820 and the map is
    printed again, "extended"."""
    if not getattr(ctx.machine.firmware, "setup_data", ()):
        return
    table = ctx.machine.early_e820()
    ctx.arch_state["e820"] = table
    ctx.pr_info("extended physical RAM map:")
    for line in e820mod.format_table(table, "reserve setup_data"):
        ctx.pr_info(line)


def efi_memblock_x86_reserve_range(ctx: BootContext) -> None:
    """The firmware's memory map is kept where it lies (when the
    description says where); from here on the kernel works on its copy."""
    efi = firmware(ctx)
    if efi is None:
        return
    st = _state(ctx)
    # EFI_MEMMAP: the kernel has the firmware's map (whether or not the
    # description knows its entries)
    st["memmap"] = list(efi.memmap)
    st["memmap_enabled"] = True
    if efi.memmap_address is not None and efi.memmap:
        ctx.mm.memblock.reserve(efi.memmap_address, len(efi.memmap) * efi.desc_size,
                                caller="efi_memblock_x86_reserve_range")


def efi_init(ctx: BootContext) -> None:
    """The firmware's banner and configuration tables; the MEMATTR table
    reserved; runtime services on unless ``noefi``/``efi=noruntime``
    (then the memory map is dropped); the map printed with ``efi=debug``."""
    efi = firmware(ctx)
    if efi is None:
        return
    st = _state(ctx)
    ctx.pr_info(f"efi: {efi.banner()}")
    ctx.pr_info(f"efi: {efi.tables_line()}")
    memattr = efi.table("MEMATTR")
    if memattr is not None and st.get("memmap_enabled"):
        entries = efi.memattr_entries or 0
        ctx.mm.memblock.reserve(memattr, MEMATTR_HEADER_SIZE + entries * efi.desc_size,
                                caller="efi_memattr_init")
    if ctx.cmdline.efi_runtime_disabled:
        st["memmap_enabled"] = False
        return
    st["runtime"] = True
    efi_clean_memmap(ctx)
    if efi_debug(ctx):
        for i, md in enumerate(st["memmap"]):
            ctx.pr_info(f"efi: {md.format(i)}")


def efi_clean_memmap(ctx: BootContext) -> None:
    """Entries of no pages, or running past the end of the 64-bit address
    space, are firmware bugs: each is reported and the map loses them."""
    st = _state(ctx)
    valid, warned = [], False
    for i, md in enumerate(st["memmap"]):
        if md.pages and md.end <= 1 << 64:
            valid.append(md)
            continue
        if not warned:
            ctx.printk("efi: [Firmware Bug]: Invalid EFI memory map entries:", KERN_WARNING)
            warned = True
        end = 0 if not md.pages else md.end - 1
        hi, lo = end >> 64, end & ((1 << 64) - 1)
        shown = f"0x{hi:x}{lo:016x}" if hi else f"0x{lo:016x}"
        ctx.printk(f"efi: mem{i:02d}: {format_typeattr(md.type, md.attribute)} "
                   f"range=[0x{md.phys_addr:016x}-{shown}] (invalid)", KERN_WARNING)
    removed = len(st["memmap"]) - len(valid)
    if removed:
        ctx.printk(f"efi: Removing {removed} invalid memory map entries.", KERN_WARNING)
        st["memmap"] = valid


def efi_set_secure_boot(ctx: BootContext) -> None:
    efi = firmware(ctx)
    if efi is None:
        return
    text = {"disabled": "disabled", "enabled": "enabled",
            "unknown": "could not be determined"}[efi.secure_boot]
    ctx.pr_info(f"secureboot: Secure boot {text}")


def efi_reserve_boot_services(ctx: BootContext) -> None:
    """Boot-services code and data are reserved until they can be given
    back; a range something else reserved first (page 0, the image, the
    MEMATTR table) is not ours to give back: it is tagged RUNTIME and kept,
    as is one not wholly RAM or overlapping the kernel."""
    st = _state(ctx)
    if not st.get("memmap_enabled"):
        return
    mb, k = ctx.mm.memblock, ctx.machine.kernel
    table = ctx.arch_state["e820"]
    text, end = k.load_address, k.end_of_image
    memmap = st["memmap"]
    for i, md in enumerate(memmap):
        if not md.is_boot_services:
            continue
        start, size = md.phys_addr, md.end - md.phys_addr
        if not mb.is_region_reserved(start, size):
            mb.reserve(start, size, caller="efi_reserve_boot_services")
            ours = not (start + size > text and start <= end) and e820mod.all_mapped(
                table, start, start + size, e820mod.E820_RAM)
            if ours:
                continue
        memmap[i] = dataclasses.replace(md, attribute=md.attribute | EFI_MEMORY_RUNTIME)


def efi_esrt_init(ctx: BootContext) -> None:
    """The ESRT (the firmware's table of updatable firmware) is kept when
    it lies in boot-services data, through ``efi_mem_reserve``; it is
    reported either way, or why it cannot be used."""
    efi, st = firmware(ctx), _state(ctx)
    if efi is None or not st.get("memmap_enabled") or efi.esrt_size is None:
        return
    addr = efi.table("ESRT")
    if addr is None:
        return
    md = _lookup(st["memmap"], addr)
    if md is None or not (md.attribute & EFI_MEMORY_RUNTIME or md.type in (
            EFI_BOOT_SERVICES_DATA, EFI_RUNTIME_SERVICES_DATA)):
        ctx.printk("esrt: ESRT header is not in the memory map.", KERN_WARNING)
        return
    size, room = efi.esrt_size, md.end - addr
    if size > room:
        ctx.printk(f"esrt: ESRT does not fit on single memory map entry (size: {size} "
                   f"max: {room})", KERN_ERR)
        return
    ctx.pr_info(f"esrt: Reserving ESRT space from {addr:#018x} to {addr + size:#018x}.")
    if md.type == EFI_BOOT_SERVICES_DATA:
        efi_mem_reserve(ctx, addr, size)


def efi_bgrt_init(ctx: BootContext) -> None:
    """The ACPI BGRT's boot logo stays (``efi_mem_reserve``)."""
    efi = firmware(ctx)
    if efi is None or efi.bgrt_image is None or not _state(ctx).get("memmap_enabled") \
            or acpi_disabled(ctx) \
            or not any(t.signature == "BGRT" for t in ctx.machine.firmware.acpi_tables):
        return
    efi_mem_reserve(ctx, *efi.bgrt_image)


def _lookup(memmap: list[EfiMemoryDescriptor], addr: int) -> EfiMemoryDescriptor | None:
    """``efi_mem_desc_lookup``: the first entry holding *addr*."""
    return next((md for md in memmap if md.phys_addr <= addr < md.end), None)


def efi_mem_reserve(ctx: BootContext, addr: int, size: int) -> None:
    """Keep firmware data for good: reserve it, then (x86's
    ``efi_arch_mem_reserve``) carve its pages out of their boot-services
    data range into a RUNTIME entry of a new, longer memory map (from
    memblock), so that they are never given back, and e820 no longer calls
    them RAM."""
    mb, efi, memmap = ctx.mm.memblock, firmware(ctx), _state(ctx)["memmap"]
    if not mb.is_region_reserved(addr, size):
        mb.reserve(addr, size, caller="efi_mem_reserve")
    md = _lookup(memmap, addr)
    if md is None or md.type != EFI_BOOT_SERVICES_DATA:
        ctx.printk(f"efi: Failed to lookup EFI memory descriptor for {addr:#018x}", KERN_ERR)
        return
    if addr + size > md.end:
        ctx.printk(f"efi: Region spans EFI memory descriptors, {addr:#018x}", KERN_ERR)
        return
    start, stop = round_down(addr, PAGE_SIZE), round_up(addr + size, PAGE_SIZE)
    pieces = [(md.phys_addr, start, md.attribute), (start, stop, md.attribute | EFI_MEMORY_RUNTIME),
              (stop, md.end, md.attribute)]
    new = [EfiMemoryDescriptor(md.type, s, (e - s) >> 12, a) for s, e, a in pieces if s < e]
    mb.phys_alloc_range((len(memmap) - 1 + len(new)) * efi.desc_size, SMP_CACHE_BYTES, 0, 0,
                        caller="efi_memmap_alloc")
    idx = memmap.index(md)
    memmap[idx:idx + 1] = new
    table = e820mod.range_update(ctx.arch_state["e820"], start, stop - start,
                                 e820mod.E820_RAM, e820mod.E820_RESERVED)
    ctx.arch_state["e820"] = e820mod.sanitize(table)


def boot_services_to_free(ctx: BootContext) -> list[tuple[int, int]]:
    """``efi_unmap_boot_services``: the boot-services ranges no one else
    owns, from 1 MiB up (the first MiB stays reserved); none with
    ``efi=debug``, which keeps them all for /sys/kernel/debug/efi."""
    st = _state(ctx)
    if not st.get("runtime") or not st.get("memmap_enabled") or efi_debug(ctx):
        return []
    out = []
    for md in st["memmap"]:
        if not md.is_boot_services or md.attribute & EFI_MEMORY_RUNTIME:
            continue
        start, end = max(md.phys_addr, SZ_1M), md.end
        if start < end:
            out.append((start, end))
    return out


def _give_back(ctx: BootContext) -> int:
    """Free the boot-services ranges to the page allocator; their bytes."""
    freed = 0
    for start, end in boot_services_to_free(ctx):
        ctx.mm.free_reserved_area(div_round_up(start, PAGE_SIZE), end // PAGE_SIZE)
        freed += end - start
    return freed


def efi_enter_virtual_mode(ctx: BootContext) -> None:
    """The runtime services' page tables and memory map
    (:mod:`mmsvc_x86_64.efi_virtmap`). 5.14 then gives the boot-services
    ranges back, at the end of ``__efi_enter_virtual_mode``, page by page
    (``memblock_free_late``) and without a word; 6.1.192 only queues them
    for :func:`efi_free_boot_services`, because the struct pages of deferred
    memory are not initialised yet. (5.14 frees such pages all the same,
    the bug that fix addresses; the simulation frees them into their zone.)"""
    st, efi = _state(ctx), firmware(ctx)
    if st.get("runtime") and st.get("memmap_enabled") and efi is not None:
        st["virtual_mode"] = efi_virtmap.enter_virtual_mode(
            ctx, st["memmap"], efi.desc_size, unmap_boot_services=not efi_debug(ctx))
    if not ctx.profile_at_least("6.1"):
        _give_back(ctx)


def efi_free_boot_services(ctx: BootContext) -> None:
    """6.1: give the queued boot-services ranges back to the page
    allocator at arch_initcall (``free_reserved_area``), and say how much."""
    if ctx.profile_at_least("6.1") and (freed := _give_back(ctx)):
        ctx.pr_info(f"efi: Freeing EFI boot services memory: {freed >> 10}K")
