"""x86_64 ``setup_arch``: from the e820 map to memblock, the early
reservations, NUMA nodes and the zones (arch/x86/kernel/setup.c,
arch/x86/kernel/e820.c, arch/x86/mm/init.c, arch/x86/mm/numa.c).

Every sub-step works on the simulation's memblock through the public
context API and prints what the kernel prints.
"""

from __future__ import annotations

from mmsvc import api
from mmsvc.api import (
    KERN_CRIT,
    KERN_DEBUG,
    KERN_ERR,
    KERN_NOTICE,
    KERN_WARNING,
    PAGE_SIZE,
    SMP_CACHE_BYTES,
    BootContext,
    MachineConfigError,
    Step,
    div_round_up,
    early_memtest,
    free_area_init,
    parse_memtest,
    round_up,
    setup_log_buf,
    substep,
)
from mmsvc.machine import e820 as e820mod
from mmsvc_x86_64 import efi, initmem, numa, paging
from mmsvc_x86_64.acpi import acpi_disabled
from mmsvc_x86_64.constants import ISA_END_ADDRESS, MAX_DMA32_PFN

SZ_64K = 64 << 10
SZ_1M = 1 << 20
MAX_DMA_PFN = (16 << 20) >> 12
#: arch/x86/realmode: the trampoline blob, page aligned (the Debian 6.1 builds')
REAL_MODE_SIZE = 7 * PAGE_SIZE
#: CRASH_ALIGN, CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX on x86_64
CRASH_ALIGN = 16 << 20
#: parse_crashkernel_mem matches ranges against the memory rounded up to this (6.1)
CRASH_RAM_ROUND = 128 << 20
CRASH_ADDR_LOW_MAX = 4 << 30
CRASH_ADDR_HIGH_MAX = 64 << 40


def state(ctx: BootContext) -> dict:
    return ctx.arch_state


def early_reserve_memory(ctx: BootContext) -> None:
    """Reserve the kernel image, the first 64K (6.1; one page in 5.14), the
    initrd and the BIOS regions below 1 MiB."""
    mb, k = ctx.mm.memblock, ctx.machine.kernel
    caller = "early_reserve_memory"
    mb.reserve(k.load_address, k.reserved_span, caller=caller)
    low = SZ_64K if ctx.profile_at_least("6.1") else PAGE_SIZE
    mb.reserve(0, low, caller=caller)
    rd = ctx.machine.initrd
    if rd is not None and rd.size:
        end = round_up(rd.start + rd.size, PAGE_SIZE)
        mb.reserve(rd.start, end - rd.start, caller="early_reserve_initrd")
    efi.memblock_x86_reserve_range_setup_data(ctx)
    bios_start = _bios_start(ctx)
    mb.reserve(bios_start, SZ_1M - bios_start, caller="reserve_bios_regions")


def _bios_start(ctx: BootContext) -> int:
    """Where the BIOS area below 1 MiB starts: the first non-RAM e820 entry
    under 1 MiB (the EBDA), kept between 128K and 640K as the kernel does."""
    start = 0xA0000
    for e in ctx.machine.bios_e820():
        if e.type != e820mod.E820_RAM and e.addr < SZ_1M and e.addr >= 0x20000:
            start = min(start, e.addr)
    return start & ~(PAGE_SIZE - 1) if start < 0xA0000 else 0x9F000


def e820__memory_setup(ctx: BootContext) -> None:
    """Print the firmware's map, sanitised."""
    table = ctx.machine.bios_e820()
    state(ctx)["e820"] = table
    ctx.pr_info("BIOS-provided physical RAM map:")
    for line in e820mod.format_table(table, "BIOS-e820"):
        ctx.pr_info(line)


def parse_early_param(ctx: BootContext) -> None:
    """Early parameters (mem=, memmap=, pti= ...), movable_node's bottom-up
    memblock, and the NX report."""
    cmd = ctx.cmdline
    if cmd.movable_node and ctx.kconfig.memory_hotplug:
        # keep the kernel's early allocations near the image, away from
        # memory that may be hot-removed, until the SRAT is read; memblock
        # then keeps off the memory the SRAT marks hotpluggable
        ctx.mm.memblock.bottom_up = True
        ctx.mm.memblock.movable_node = True
    ctx.parse_early_param()
    for con in paging.early_consoles(ctx)[1]:
        ctx.printk(f"ERROR: earlyprintk= early{'ser' if con == 'serial' else con} already used",
                   KERN_CRIT)
    ctx.arch_state["percpu_alloc"] = api.percpu_alloc_setup(ctx)
    parse_memtest(ctx)
    if initmem.nx_enabled(ctx):
        ctx.pr_info("NX (Execute Disable) protection: active")
    elif ctx.machine.cpu_features.nx:
        ctx.pr_info("NX (Execute Disable) protection: disabled by kernel command line option")
    else:
        ctx.printk("Notice: NX (Execute Disable) protection missing in CPU!", KERN_NOTICE)


def e820__finish_early_params(ctx: BootContext) -> None:
    """Apply the command line's map edits and print the user-defined map."""
    if ctx.machine.user_e820() is None:
        return
    # the map as edited, an imported EFI map and setup_data included
    user = ctx.machine.early_e820()
    state(ctx)["e820"] = user
    ctx.pr_info("user-defined physical RAM map:")
    for line in e820mod.format_table(user, "user"):
        ctx.pr_info(line)


def e820__end_of_ram_pfn(ctx: BootContext) -> None:
    """max_pfn (and max_low_pfn) from the e820 map, with their "last_pfn"
    lines; before them e820_add_kernel_range's warning when the image lies
    outside RAM (KASLR does not honour ``memmap=exactmap``)."""
    table, warned = ctx.machine.e820_after_setup()
    if warned:
        ctx.printk(".text .data .bss are not marked as E820_TYPE_RAM!", KERN_WARNING)
    # trim_bios_range: page 0 reserved, RAM in the BIOS hole removed
    ctx.printk("e820: update [mem 0x00000000-0x00000fff] usable ==> reserved", KERN_DEBUG)
    ctx.printk(f"e820: remove [mem {0xA0000:#010x}-{0xFFFFF:#010x}] usable", KERN_DEBUG)
    state(ctx)["e820"] = table
    max_arch_pfn = 1 << (ctx.machine.max_physmem_bits - 12)
    max_pfn = _end_pfn(table, max_arch_pfn)
    ctx.pr_info(f"last_pfn = {max_pfn:#x} max_arch_pfn = {max_arch_pfn:#x}")
    ctx.g.max_pfn = max_pfn
    if max_pfn > MAX_DMA32_PFN:
        low = _end_pfn(table, MAX_DMA32_PFN)
        # e820_end_pfn prints the architecture's limit, whatever it was asked for
        ctx.pr_info(f"last_pfn = {low:#x} max_arch_pfn = {max_arch_pfn:#x}")
        ctx.g.max_low_pfn = low
    else:
        ctx.g.max_low_pfn = max_pfn
    ctx.g.max_possible_pfn = max_pfn


def _end_pfn(table, limit_pfn: int) -> int:
    last = 0
    for e in table:
        if e.type not in (e820mod.E820_RAM, e820mod.E820_RESERVED_KERN):
            continue
        start, end = e.addr >> 12, (e.addr + e.size) >> 12
        if start >= limit_pfn:
            continue
        last = max(last, min(end, limit_pfn))
    return last


def find_smp_config(ctx: BootContext) -> None:
    """smp_scan_config: the MP floating pointer the BIOS left in low memory
    is reported and reserved, and the configuration table it points to."""
    mp = getattr(ctx.machine.firmware, "mp_table", None)
    if mp is None:
        return
    ctx.pr_info(f"found SMP MP-table at [mem {mp.address:#010x}-{mp.address + 15:#010x}]")
    ctx.mm.memblock.reserve(mp.address, 16, caller="smp_scan_config")
    if mp.config_length:
        ctx.mm.memblock.reserve(mp.config_address, mp.config_length, caller="smp_scan_config")


def reserve_brk(ctx: BootContext) -> None:
    """The brk area used so far: the DMI copy (dmi_setup), then the early
    page-table buffer, page aligned (early_alloc_pgt_buf)."""
    k = ctx.machine.kernel
    base = k.load_address + k.reserved_span
    pgt_buf = base + round_up(ctx.machine.firmware.dmi_size, PAGE_SIZE)
    pages = paging.init_pgt_buf_pages(ctx)
    size = pgt_buf + pages * PAGE_SIZE - base
    ctx.mm.memblock.reserve(base, size, caller="reserve_brk")
    state(ctx)["brk"] = (base, size)
    ctx.arch_state["pgt_buf"] = (pgt_buf // PAGE_SIZE, pages)
    ctx.mm.set_early_pgt_pool(pgt_buf // PAGE_SIZE, pages)


def e820__memblock_setup(ctx: BootContext) -> None:
    """Usable e820 RAM becomes memblock memory, trimmed to whole pages."""
    mb = ctx.mm.memblock
    mb.current_limit = ISA_END_ADDRESS
    table = state(ctx)["e820"]
    for e in table:
        end = e.addr + e.size
        if e.type in (e820mod.E820_RAM, e820mod.E820_RESERVED_KERN):
            mb.add(e.addr, e.size, caller="e820__memblock_setup")
        elif e.type == e820mod.E820_SOFT_RESERVED:
            mb.reserve(e.addr, end - e.addr, caller="e820__memblock_setup")
    mb.trim_memory(PAGE_SIZE)
    mb.dump_all()


def reserve_real_mode(ctx: BootContext) -> None:
    """The real-mode trampoline under 1 MiB, then all of the first 1 MiB."""
    mb = ctx.mm.memblock
    try:
        mb.phys_alloc_range(REAL_MODE_SIZE, PAGE_SIZE, 0, SZ_1M, caller="reserve_real_mode")
    except MemoryError:
        ctx.pr_info("No sub-1M memory is available for the trampoline")
    mb.reserve(0, SZ_1M, caller="reserve_real_mode")


def init_mem_mapping(ctx: BootContext) -> None:
    """The direct map: PTI's early decision, the page-size report, the page
    tables; then ``memtest=``'s test of the free memory it mapped."""
    from mmsvc_x86_64 import pti

    pti.pti_check_boottime_disable(ctx)
    paging.init_mem_mapping(ctx)
    early_memtest(ctx, 0, paging.max_pfn_mapped(ctx) << 12,
                  warn=bool(ctx.build.bad_ram_warning))
    ctx.mm.memblock.current_limit = ctx.g.max_pfn << 12


def reserve_initrd(ctx: BootContext) -> None:
    """Report the initrd; one the direct map does not cover (it lies outside
    RAM, e.g. after ``memmap=exactmap``) moves into mapped memory, and its
    old place is given back."""
    rd = ctx.machine.initrd
    if rd is None or not rd.size:
        return
    end = round_up(rd.start + rd.size, PAGE_SIZE)
    ctx.pr_info(f"RAMDISK: [mem {rd.start:#010x}-{end - 1:#010x}]")
    state(ctx)["initrd"] = (rd.start, rd.size)
    if _pfn_range_is_mapped(ctx, rd.start >> 12, end >> 12):
        return
    mb = ctx.mm.memblock
    try:
        new = mb.phys_alloc_range(end - rd.start, PAGE_SIZE, 0, ctx.g.max_pfn << 12,
                                  caller="relocate_initrd")
    except MemoryError as e:
        raise MachineConfigError("initrd", f"Cannot find place for new RAMDISK of size "
                                           f"{rd.size}") from e
    ctx.pr_info(f"Allocated new RAMDISK: [mem {new:#010x}-{new + rd.size - 1:#010x}]")
    ctx.pr_info(f"Move RAMDISK from [mem {rd.start:#010x}-{rd.start + rd.size - 1:#010x}] to"
                f" [mem {new:#010x}-{new + rd.size - 1:#010x}]")
    mb.free(rd.start, end - rd.start, caller="reserve_initrd")
    state(ctx)["initrd"] = (new, rd.size)


def _pfn_range_is_mapped(ctx: BootContext, start_pfn: int, end_pfn: int) -> bool:
    """Whether the direct map covers ``[start_pfn, end_pfn)``: the ISA range
    and memblock memory, as init_mem_mapping mapped them."""
    covered = [(0, ISA_END_ADDRESS >> 12)] + [(s, e) for s, e, _ in
                                              ctx.mm.memblock.mem_pfn_ranges()]
    pfn = start_pfn
    for s, e in sorted(covered):
        if s <= pfn < e:
            pfn = e
    return pfn >= end_pfn


def initmem_init(ctx: BootContext) -> None:
    numa.x86_numa_init(ctx)


def reserve_crashkernel(ctx: BootContext) -> None:
    """``crashkernel=``: a region for the kdump kernel. Without an offset it
    is taken top-down below 4 GiB, else anywhere (``,high`` goes straight
    there); above 4 GiB it needs low memory beside it too
    (:func:`reserve_crashkernel_low`). With ``@offset`` it must be free there."""
    ck = ctx.cmdline.crashkernel
    if ck is None:
        return
    if ck.invalid is not None:
        ctx.printk(f"crashkernel: {ck.invalid}", KERN_WARNING)
        return
    mb = ctx.mm.memblock
    system_ram = mb.phys_mem_size()
    size = ck.size_for(system_ram, CRASH_RAM_ROUND if ctx.profile_at_least("6.1") else 0)
    if not size:
        return
    if ck.offset:
        if _alloc_range(mb, size, SZ_1M, ck.offset, ck.offset + size) != ck.offset:
            ctx.pr_info("crashkernel reservation failed - memory is in use.")
            return
        base = ck.offset
    else:
        base = None
        if not ck.high:
            base = _alloc_range(mb, size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_LOW_MAX)
        if base is None:
            base = _alloc_range(mb, size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_HIGH_MAX)
        if base is None:
            ctx.pr_info("crashkernel reservation failed - No suitable area found.")
            return
    if base >= CRASH_ADDR_LOW_MAX and not reserve_crashkernel_low(ctx):
        mb.free(base, size, caller="reserve_crashkernel")
        return
    ctx.pr_info(f"Reserving {size >> 20}MB of memory at {base >> 20}MB for crashkernel "
                f"(System RAM: {system_ram >> 20}MB)")


def reserve_crashkernel_low(ctx: BootContext) -> bool:
    """The low memory a crash kernel above 4 GiB needs for DMA: ``,low``'s
    size, else the bounce buffer plus 8 MiB and at least 256 MiB."""
    from mmsvc_x86_64.mem_init import swiotlb_size_or_default

    mb = ctx.mm.memblock
    limit = min(mb.phys_mem_size(), CRASH_ADDR_LOW_MAX)
    low = ctx.cmdline.crashkernel_low
    if low is not None and low.invalid is not None:
        ctx.printk(f"crashkernel: {low.invalid}", KERN_WARNING)
        low = None  # an unreadable ,low size falls back to the default
    if low is None:
        size = max(swiotlb_size_or_default(ctx) + (8 << 20), 256 << 20)
    else:
        size = low.size_for(limit, CRASH_RAM_ROUND if ctx.profile_at_least("6.1") else 0)
        if not size:
            return True
    base = _alloc_range(mb, size, CRASH_ALIGN, 0, CRASH_ADDR_LOW_MAX)
    if base is None:
        ctx.printk(f"Cannot reserve {size >> 20}MB crashkernel low memory, please try "
                   "smaller size.", KERN_ERR)
        return False
    ctx.pr_info(f"Reserving {size >> 20}MB of low memory at {base >> 20}MB for crashkernel "
                f"(low RAM limit: {limit >> 20}MB)")
    return True


def _alloc_range(mb, size: int, align: int, start: int, end: int) -> int | None:
    """``memblock_phys_alloc_range``, None when nothing fits."""
    try:
        return mb.phys_alloc_range(size, align, start, end, caller="reserve_crashkernel")
    except MemoryError:
        return None


def memblock_find_dma_reserve(ctx: BootContext) -> None:
    """Pages below 16 MiB that are memory but already reserved: ``dma_reserve``."""
    mb = ctx.mm.memblock
    nr_pages = sum(max(0, min(e, MAX_DMA_PFN) - min(s, MAX_DMA_PFN))
                   for s, e, _ in mb.mem_pfn_ranges())
    nr_free = 0
    for start, end, _ in mb.free_ranges():
        s = min(div_round_up(start, PAGE_SIZE), MAX_DMA_PFN)
        e = min(end // PAGE_SIZE, MAX_DMA_PFN)
        nr_free += max(0, e - s)
    ctx.g.dma_reserve = nr_pages - nr_free


def paging_init(ctx: BootContext) -> None:
    """sparse_init, then zone_sizes_init -> free_area_init."""
    geo = paging.sparse_geometry(ctx)
    tables = paging.vmemmap_tables(ctx)
    api.sparse_init(ctx, geo, tables)
    max_pfn = ctx.g.max_pfn
    # on 64-bit init_mem_mapping has set max_low_pfn to max_pfn
    ctx.g.max_low_pfn = max_pfn
    limits = {
        "DMA": min(MAX_DMA_PFN, max_pfn),
        "DMA32": min(MAX_DMA32_PFN, max_pfn),
        "Normal": max_pfn,
        "Movable": 0,
    }
    if ctx.kconfig.zone_device:
        limits["Device"] = 0
    free_area_init(ctx, limits, dma_reserve=ctx.g.dma_reserve,
                   nr_nodes=state(ctx).get("nr_node_ids"))


#: sizeof(struct resource), sizeof(struct firmware_map_entry), sizeof(struct
#: nosave_region) on x86_64, and the resource name buffers of HPET and IOAPIC
RESOURCE_SIZE = 64
FIRMWARE_MAP_ENTRY_SIZE = 104
NOSAVE_REGION_SIZE = 32
HPET_RESOURCE_NAME_SIZE = 9
IOAPIC_RESOURCE_NAME_SIZE = 11


def acpi_boot_table_init(ctx: BootContext) -> None:
    """acpi_reserve_initial_tables: every table the firmware lists (not
    the RSDP/RSDT/XSDT it finds them through) is reserved, with a line each;
    nothing with ``acpi=off``."""
    if acpi_disabled(ctx):
        return
    for t in ctx.machine.firmware.acpi_tables:
        ctx.pr_info(f"ACPI: Reserving {t.signature:>4} table memory at "
                    f"[mem {t.address:#x}-{t.address + t.length - 1:#x}]")
        ctx.mm.memblock.reserve(t.address, t.length, caller="acpi_reserve_initial_tables")


def acpi_boot_init(ctx: BootContext) -> None:
    """The HPET's resource and its name (acpi_parse_hpet, for
    hpet_insert_resource): only when ACPI is on and the firmware has an HPET
    table (a machine whose table list is unknown is assumed to have one);
    then, on UEFI, the BGRT's boot logo kept."""
    if acpi_disabled(ctx):
        return
    tables = ctx.machine.firmware.acpi_tables
    if not tables or any(t.signature == "HPET" for t in tables):
        ctx.mm.memblock.alloc(RESOURCE_SIZE + HPET_RESOURCE_NAME_SIZE, SMP_CACHE_BYTES,
                              caller="hpet_insert_resource")
    efi.efi_bgrt_init(ctx)


def small_boot_allocations(ctx: BootContext) -> None:
    """The small memblock allocations of the rest of setup_arch and of
    setup_command_line, one call each in the kernel's order: the IOAPIC
    resources (io_apic_init_mappings), the e820 resources and a firmware-map
    entry per BIOS e820 entry (e820__reserve_resources), a nosave region per
    hole below max_pfn (setup_command_line's copies follow, in the generic
    step after setup_arch)."""
    mb = ctx.mm.memblock
    e820 = state(ctx)["e820"]
    ioapics = ctx.machine.firmware.ioapics
    if ioapics:
        mb.alloc((RESOURCE_SIZE + IOAPIC_RESOURCE_NAME_SIZE) * ioapics, SMP_CACHE_BYTES,
                 caller="ioapic_setup_resources")
    mb.alloc(RESOURCE_SIZE * len(e820), SMP_CACHE_BYTES, caller="e820__reserve_resources")
    for _ in ctx.machine.bios_e820():
        mb.alloc(FIRMWARE_MAP_ENTRY_SIZE, SMP_CACHE_BYTES, caller="firmware_map_add_early")
    register_nosave_regions(ctx, e820)
    e820__setup_pci_gap(ctx, e820)


def _ram_alignment(pos: int) -> int:
    """64 KiB in the first MiB, 1 MiB in the first 16, 64 MiB above."""
    mb = pos >> 20
    return 64 << 10 if not mb else 1 << 20 if mb < 16 else 64 << 20


def e820__reserve_resources_late(ctx: BootContext) -> None:
    """The end of each RAM entry is padded to a round boundary, a "RAM
    buffer" PCI resources will not be placed in (KERN_DEBUG lines)."""
    for e in state(ctx)["e820"]:
        if e.type != e820mod.E820_RAM:
            continue
        start = e.addr + e.size
        end = -(-start // _ram_alignment(start)) * _ram_alignment(start) - 1
        if start < end:
            ctx.printk(f"e820: reserve RAM buffer [mem {start:#010x}-{end:#010x}]", KERN_DEBUG)


#: memory blocks of memory hotplug: 128 MiB, up to 2 GiB from 64 GiB of memory on
MIN_MEMORY_BLOCK_SIZE, MAX_BLOCK_SIZE = 128 << 20, 2 << 30
MEM_SIZE_FOR_LARGE_BLOCK = 64 << 30


def probe_memory_block_size(ctx: BootContext) -> None:
    """memory_dev_init's first question (CONFIG_MEMORY_HOTPLUG): the memory
    block size, 128 MiB below 64 GiB; above, 2 GiB on bare metal, and in a
    virtual machine the largest size up to that the end of memory is
    aligned to."""
    if not ctx.kconfig.memory_hotplug:
        return
    end = ctx.g.max_pfn << 12
    if end < MEM_SIZE_FOR_LARGE_BLOCK:
        size = MIN_MEMORY_BLOCK_SIZE
    elif not ctx.machine.cpu_features.hypervisor:
        size = MAX_BLOCK_SIZE
    else:
        size = MAX_BLOCK_SIZE
        while size > MIN_MEMORY_BLOCK_SIZE and end % size:
            size >>= 1
    ctx.pr_info(f"x86/mm: Memory block size: {size >> 20}MB")
    ctx.results["memory_block_size"] = size


#: the 32-bit PCI window: the largest gap (at least 4 MiB) in the e820 map below 4 GiB
MAX_GAP_END = 1 << 32


def e820__setup_pci_gap(ctx: BootContext, e820) -> None:
    """Report the largest hole below 4 GiB the e820 map leaves (searched from
    the top entry down), where 32-bit PCI BARs may go."""
    gapstart, gapsize, found = 0, 0x400000, False
    last = MAX_GAP_END
    for e in reversed(e820):
        end = e.addr + e.size
        if last > end and last - end >= gapsize:
            gapstart, gapsize, found = end, last - end, True
        last = min(last, e.addr)
    if not found:
        gapstart = (ctx.g.max_pfn << 12) + (1 << 20)
        ctx.printk("Cannot find an available gap in the 32-bit address range", KERN_ERR)
        ctx.printk("PCI devices with unassigned 32-bit BARs may not work!", KERN_ERR)
    ctx.pr_info(f"[mem {gapstart:#010x}-{gapstart + gapsize - 1:#010x}] available for "
                "PCI devices")


def cpumask_allocations(ctx: BootContext, nr_node_ids: int, nr_cpu_ids: int) -> None:
    """The end of setup_per_cpu_areas: with CPUMASK_OFFSTACK every cpumask
    is a memblock allocation of BITS_TO_LONGS(nr_cpu_ids) longs: one per
    node (setup_node_to_cpumask_map), then the initialized, callin, callout
    and sibling-setup masks (setup_cpu_local_masks)."""
    if not ctx.kconfig.cpumask_offstack:
        return
    size = 8 * div_round_up(nr_cpu_ids, 64)
    mb = ctx.mm.memblock
    for _ in range(nr_node_ids if ctx.kconfig.numa else 0):
        mb.alloc(size, SMP_CACHE_BYTES, caller="setup_node_to_cpumask_map")
    for _ in range(4):
        mb.alloc(size, SMP_CACHE_BYTES, caller="setup_cpu_local_masks")


def nosave_calls(e820, limit_pfn: int, profile_6_1: bool) -> list[tuple[int, int]]:
    """The ``register_nosave_region(start_pfn, end_pfn)`` calls of
    ``e820__register_nosave_regions``. 6.1.192 (with the 2025 stable fix)
    registers the gaps between RAM entries and the tail up to
    ``limit_pfn``; 5.14 every gap and every non-RAM entry until an entry
    reaches ``limit_pfn``."""
    ram = (e820mod.E820_RAM, e820mod.E820_RESERVED_KERN)
    calls = []
    if profile_6_1:
        last = 0
        for e in e820:
            if e.type not in ram:
                continue
            if last < e.addr:
                calls.append((last >> 12, div_round_up(e.addr, PAGE_SIZE)))
            last = e.addr + e.size
        calls.append((last >> 12, limit_pfn))
    else:
        pfn = 0
        for e in e820:
            up = div_round_up(e.addr, PAGE_SIZE)
            if pfn < up:
                calls.append((pfn, up))
            pfn = (e.addr + e.size) >> 12
            if e.type not in ram:
                calls.append((up, pfn))
            if pfn >= limit_pfn:
                break
    return [(lo, hi) for lo, hi in calls if lo < hi]


def register_nosave_regions(ctx: BootContext, e820) -> None:
    """Each call prints the range; a range that continues the previous one
    extends it, any other takes a ``struct nosave_region`` from memblock."""
    prev_end = None
    for lo, hi in nosave_calls(e820, ctx.g.max_pfn, ctx.profile_at_least("6.1")):
        if lo != prev_end:
            ctx.mm.memblock.alloc(NOSAVE_REGION_SIZE, SMP_CACHE_BYTES,
                                  caller="register_nosave_region")
        prev_end = hi
        ctx.pr_info(f"PM: hibernation: Registered nosave memory: "
                    f"[mem {lo << 12:#010x}-{(hi << 12) - 1:#010x}]")


def prefill_possible_map(ctx: BootContext) -> None:
    """The possible CPUs: the present ones and, with CPU hotplug, the
    firmware's disabled ones (``possible_cpus=`` overrides), at most
    ``nr_cpus=``, one with ``nosmp``; ``nr_cpu_ids`` is their count."""
    cmd, m = ctx.cmdline, ctx.machine
    present = m.present_cpus or m.cpus
    max_cpus = ctx.cmdline.setup_max_cpus(ctx.kconfig.nr_cpus)
    possible = cmd.get_int("possible_cpus")
    if possible is not None:
        if possible == 0:
            raise MachineConfigError(f"cmdline: possible_cpus={cmd.get('possible_cpus')}",
                                     "no CPU, not even the boot CPU, would be possible")
    else:
        possible = m.cpus if max_cpus else present
    limit = ctx.kconfig.nr_cpus
    nr_cpus = cmd.get_int("nr_cpus", 0)
    if 0 < nr_cpus < limit:  # nr_cpu_setup only ever lowers nr_cpu_ids
        limit = nr_cpus
    if possible > limit:
        ctx.printk(f"smpboot: {possible} Processors exceeds NR_CPUS limit of {limit}",
                   KERN_WARNING)
        possible = limit
    if not max_cpus and possible > 1:
        ctx.printk(f"smpboot: {possible} Processors exceeds max_cpus limit of {max_cpus}",
                   KERN_WARNING)
        possible = 1
    ctx.g.nr_cpu_ids = possible
    ctx.pr_info(f"smpboot: Allowing {possible} CPUs, {max(possible - present, 0)} hotplug CPUs")


def early_log_buf(ctx: BootContext) -> None:
    """setup_log_buf(1), once the direct map is up."""
    setup_log_buf(ctx, early=True)


def steps(profile: str) -> list[Step]:
    """setup_arch's sub-steps, in the kernel's order for the profile (6.1
    reserves the image before reading the e820 map, 5.14 after the early
    parameters)."""
    reserve = substep("early_reserve_memory", early_reserve_memory,
                      "kernel image, low memory, initrd, BIOS regions")
    e820 = [
        substep("e820__memory_setup", e820__memory_setup, "print the BIOS e820 map"),
        substep("parse_early_param", parse_early_param, "mem=, memmap=, pti=; NX report"),
        substep("efi_memblock_x86_reserve_range", efi.efi_memblock_x86_reserve_range,
                "UEFI: the firmware's memory map kept"),
        substep("e820__reserve_setup_data", efi.e820__reserve_setup_data,
                "the boot loader's setup_data marked in e820, the extended map"),
        substep("e820__finish_early_params", e820__finish_early_params,
                "the user-defined map"),
        substep("efi_init", efi.efi_init,
                "UEFI: banner, configuration tables, MEMATTR table; efi=debug's map"),
        substep("efi_set_secure_boot", efi.efi_set_secure_boot, "UEFI: the secure-boot state"),
    ]
    head = [reserve, *e820] if profile != "5.14" else [*e820, reserve]
    return [
        *head,
        substep("e820__end_of_ram_pfn", e820__end_of_ram_pfn, "max_pfn and max_low_pfn"),
        substep("kernel_randomize_memory", paging.kernel_randomize_memory,
                "KASLR of the memory regions' bases"),
        substep("find_smp_config", find_smp_config, "the BIOS's MP table, reserved"),
        substep("reserve_brk", reserve_brk, "early page-table buffer and DMI copy"),
        substep("e820__memblock_setup", e820__memblock_setup, "e820 RAM to memblock"),
        substep("efi_esrt_init", efi.efi_esrt_init,
                "UEFI: the ESRT kept when it lies in boot-services data"),
        substep("efi_reserve_boot_services", efi.efi_reserve_boot_services,
                "UEFI: boot-services code and data kept until after boot"),
        substep("reserve_real_mode", reserve_real_mode, "trampoline and the first 1 MiB"),
        substep("init_mem_mapping", init_mem_mapping, "the direct map"),
        substep("setup_log_buf", early_log_buf, "the log buffer log_buf_len= asks for"),
        substep("reserve_initrd", reserve_initrd, "report the initrd"),
        substep("acpi_boot_table_init", acpi_boot_table_init, "reserve the ACPI tables"),
        substep("initmem_init", initmem_init, "NUMA nodes and NODE_DATA"),
        substep("reserve_crashkernel", reserve_crashkernel, "crashkernel="),
        substep("memblock_find_dma_reserve", memblock_find_dma_reserve, "dma_reserve"),
        substep("paging_init", paging_init, "sparse_init and the zones"),
        substep("acpi_boot_init", acpi_boot_init, "the HPET resource"),
        substep("prefill_possible_map", prefill_possible_map,
                "possible CPUs: nr_cpus=, possible_cpus=, nosmp"),
        substep("init_cpu_to_node", numa.init_cpu_to_node,
                "CPUs' nodes online; 5.14 sets up memoryless ones"),
        substep("small_boot_allocations", small_boot_allocations,
                "small allocations of the rest of setup_arch"),
    ]
