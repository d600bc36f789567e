"""What x86_64 gives back once boot is over, and the page attributes it
changes on the way (kernel_init: the SMP alternatives, the initrd,
free_initmem, mark_rodata_ro).

The image is laid out the way vmlinux.lds.S lays it out: text, rodata from
the next 2 MiB boundary, data from the 2 MiB boundary after rodata, ...,
init, the SMP lock table, bss ending at ``_end`` with the 2 MiB-aligned
decrypted bss last. The parts the log does not size are placed from the
end (``_end`` is ``load_address + reserved_span``), sizes from the kernel
catalogue or from the alignment rules for an uncatalogued build.

Freeing a piece of the image first makes it writable and no-execute
(``free_init_pages``), and ``mark_rodata_ro`` write-protects text and
rodata and makes everything after the text no-execute. Each of these is a
``change_page_attr`` on the high kernel mapping, and for the write bit on
its alias in the direct map too: 2 MiB pages are split where a change
covers one in part, which /proc/meminfo's DirectMap lines show (the kernel
counts splits of the high mapping there as well).
"""

from __future__ import annotations

from mmsvc.api import PAGE_SIZE, BootContext, round_up
from mmsvc_x86_64.constants import PMD_SIZE as HPAGE_SIZE
from mmsvc_x86_64.constants import START_KERNEL_MAP

WRITE, NOEXEC = "WRITE", "NOEXEC"


#: __brk_limit - __brk_base of the Debian 6.1 builds (64K slop, the DMI copy
#: and the early page-table buffer), for builds the catalogue lacks
DEFAULT_BRK_SIZE = 0x30000


def brk_size(ctx: BootContext) -> int:
    """The brk area after ``__end_of_kernel_reserve``: ``_end`` is its end."""
    return ctx.build.brk_size or DEFAULT_BRK_SIZE


def section_starts(ctx: BootContext) -> dict[str, int]:
    """Physical boundaries of the image's parts (vmlinux.lds.S order)."""
    k, b = ctx.machine.kernel, ctx.build
    text_end = round_up(k.load_address + k.text, PAGE_SIZE)
    gap1 = b.text_rodata_gap if b.text_rodata_gap is not None else \
        round_up(text_end, HPAGE_SIZE) - text_end
    rodata = text_end + gap1
    rodata_end = round_up(rodata + k.rodata, PAGE_SIZE)
    gap2 = b.rodata_data_gap if b.rodata_data_gap is not None else \
        round_up(rodata_end, HPAGE_SIZE) - rodata_end
    data = rodata_end + gap2
    end = k.load_address + k.reserved_span
    bss = end - round_up(k.bss, PAGE_SIZE)
    smp_locks = bss - (b.smp_alternatives or 0)
    init = smp_locks - round_up(k.init, PAGE_SIZE)
    return {"text": k.load_address, "text_end": text_end, "rodata": rodata,
            "rodata_end": rodata_end, "data": data, "init": init, "smp_locks": smp_locks,
            "bss": bss, "decrypted_unused": end - (b.decrypted_unused or 0), "end": end}


def image_layout(ctx: BootContext) -> dict[str, tuple[int, int]]:
    """Physical ``[start, end)`` of each freeable piece of the image."""
    s = section_starts(ctx)
    pieces = {
        "SMP alternatives": (s["smp_locks"], s["bss"]),
        "unused decrypted": (s["decrypted_unused"], s["end"]),
        "unused kernel image (initmem)": (s["init"], s["smp_locks"]),
        "unused kernel image (text/rodata gap)": (s["text_end"], s["rodata"]),
        "unused kernel image (rodata/data gap)": (s["rodata_end"], s["data"]),
    }
    return {name: (lo, hi) for name, (lo, hi) in pieces.items() if hi > lo}


def kernel_virt(ctx: BootContext, phys: int) -> int:
    """The high-mapping address of the image's physical *phys*: the image
    is linked at ``__START_KERNEL_map + CONFIG_PHYSICAL_START`` and phys_base
    absorbs wherever it was loaded (KASLR moves the virtual base too, at
    random; the tables are the same static ones wherever it lands)."""
    return START_KERNEL_MAP + ctx.kconfig.physical_start + phys - ctx.machine.kernel.load_address


def map_high_kernel(ctx: BootContext, brk_end: int) -> None:
    """The high kernel mapping head_64.S builds and cleanup_highmap trims:
    ``[_text, roundup(_brk_end, 2M))`` in 2 MiB pages, read-write and
    executable, its tables static in the image."""
    s = section_starts(ctx)
    end = round_up(brk_end, HPAGE_SIZE)
    levels = 3 if ctx.machine.five_level_paging else 2  # p4d?, pud, pmd
    tables = [(s["data"] >> 12) + 1 + i for i in range(levels)]
    ctx.mm.kernel_map_static(kernel_virt(ctx, s["text"]), s["text"], end - s["text"], tables,
                             flags=[WRITE, "GLOBAL", "ACCESSED", "DIRTY"], page_size=HPAGE_SIZE)
    ctx.arch_state["high_map"] = (s["text"], end)


def nx_enabled(ctx: BootContext) -> bool:
    """``__supported_pte_mask`` has NX: the CPU has it and (5.14, whose
    ``noexec=`` 5.19 removed) ``noexec=off`` did not turn it off."""
    return ctx.machine.cpu_features.nx and not (
        ctx.cmdline.noexec and not ctx.profile_at_least("6.1"))


def change_page_attr(ctx: BootContext, start: int, end: int, *, set_: tuple[str, ...] = (),
                     clear: tuple[str, ...] = ()) -> None:
    """change_page_attr on the high mapping of physical ``[start, end)`` and,
    unless only the no-execute bit changes, on its direct-map alias; splits
    of either count in DirectMap (split_page_count)."""
    if not nx_enabled(ctx):
        # without NX in the supported mask the bit is masked out of the change
        set_ = tuple(f for f in set_ if f != NOEXEC)
        clear = tuple(f for f in clear if f != NOEXEC)
    if end <= start or "high_map" not in ctx.arch_state or not (set_ or clear):
        return
    mm, dm = ctx.mm, ctx.results["direct_map"]
    _change_high_map(ctx, start, end, set_, clear)
    if set(set_) | set(clear) != {NOEXEC}:
        # the alias exists only where the direct map maps RAM (pfn_range_is_mapped)
        for lo_pfn, hi_pfn, _nid in mm.memblock.mem_pfn_ranges():
            lo, hi = max(start, lo_pfn << 12), min(end, hi_pfn << 12)
            if lo < hi:
                mm.kernel_change_attr(dm["virt"] + lo, hi - lo, list(set_), list(clear),
                                      account=True)


def change_alias_attr(ctx: BootContext, pfn_runs: list[tuple[int, int]], *,
                      set_: tuple[str, ...] = (), clear: tuple[str, ...] = ()) -> None:
    """``cpa_process_alias`` for pages a change reached through another
    mapping (a vmalloc area): their direct-map alias and, for the pages
    inside ``[_text, roundup(_brk_end, 2M))`` (the free tail after brk,
    image pieces already given back), the high kernel mapping's too. Splits
    of either count in DirectMap: the high mapping's addresses are
    ``virt_addr_valid`` as well."""
    mm, virt = ctx.mm, ctx.results["direct_map"]["virt"]
    for start, end in pfn_runs:
        lo, hi = start * PAGE_SIZE, end * PAGE_SIZE
        mm.kernel_change_attr(virt + lo, hi - lo, list(set_), list(clear), account=True)
        _change_high_map(ctx, lo, hi, set_, clear)


def _change_high_map(ctx: BootContext, start: int, end: int, set_: tuple[str, ...],
                     clear: tuple[str, ...]) -> None:
    """The change on the high mapping of physical ``[start, end)``, where it
    maps it. Pages already taken out of it keep no entry there: the kernel's
    non-present entries change without a split (they are whole leaves or
    inside split ones), so skipping them changes the same splits."""
    text, high_end = ctx.arch_state.get("high_map", (0, 0))
    for lo, hi in _minus(max(start, text), min(end, high_end),
                         ctx.arch_state.get("high_map_removed", ())):
        ctx.mm.kernel_change_attr(kernel_virt(ctx, lo), hi - lo, list(set_), list(clear),
                                  account=True)


def _minus(start: int, end: int, holes) -> list[tuple[int, int]]:
    """``[start, end)`` without the ``[lo, hi)`` ranges of *holes* (none
    when the range is empty)."""
    runs = [(start, end)] if start < end else []
    for lo, hi in holes:
        runs = [piece for a, b in runs
                for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return runs


def idt_table(ctx: BootContext) -> int:
    """Physical address of ``idt_table``: from the build (its catalogue entry
    or its symbol table), else the start of .bss, where the page-aligned bss
    (the IDT among it) is linked first."""
    offset = ctx.build.idt_table_offset
    if offset is not None:
        return ctx.machine.kernel.load_address + offset
    return section_starts(ctx)["bss"]


def protect_idt(ctx: BootContext) -> None:
    """``idt_setup_apic_and_irq_gates`` (init_IRQ): once the vectors are set
    the IDT page is made read-only, on the high mapping and its direct-map
    alias, splitting the 2 MiB pages that hold it."""
    idt = idt_table(ctx)
    change_page_attr(ctx, idt, idt + PAGE_SIZE, clear=(WRITE,))


def free_init_pages(ctx: BootContext, name: str, start: int, end: int,
                    freed: dict[str, int]) -> None:
    """Make the pages writable and no-execute, then give them back."""
    change_page_attr(ctx, start, end, set_=(NOEXEC,))
    change_page_attr(ctx, start, end, set_=(WRITE,))
    pages = ctx.mm.free_reserved_area(start // PAGE_SIZE, end // PAGE_SIZE)
    freed[name] = pages
    ctx.pr_info(f"Freeing {name} memory: {pages * PAGE_SIZE >> 10}K")


def free_kernel_image_pages(ctx: BootContext, name: str, start: int, end: int,
                            freed: dict[str, int]) -> None:
    """Free a piece of the image; with PTI the piece also leaves the high
    mapping (``set_memory_np_noalias``), so that no entry the user copy
    might share points at freed memory. A 2 MiB page the piece covers in
    part is split for that, counted in DirectMap; its direct-map alias
    stays."""
    free_init_pages(ctx, name, start, end, freed)
    if not ctx.arch_state.get("pti") or "high_map" not in ctx.arch_state:
        return
    removed = ctx.arch_state.setdefault("high_map_removed", [])
    for lo, hi in _minus(start, end, removed):
        ctx.mm.kernel_set_not_present(kernel_virt(ctx, lo), hi - lo, account=True)
    removed.append((start, end))


def mark_rodata_ro(ctx: BootContext, freed: dict[str, int]) -> None:
    """Write-protect text and rodata (to the 2 MiB-aligned rodata end), make
    everything from the end of text to the end of brk no-execute, and free
    the two alignment gaps."""
    s, layout = section_starts(ctx), image_layout(ctx)
    ctx.pr_info(f"Write protecting the kernel read-only data: {(s['data'] - s['text']) >> 10}k")
    change_page_attr(ctx, s["text"], s["data"], clear=(WRITE,))
    _lo, high_end = ctx.arch_state.get("high_map", (0, s["end"]))
    change_page_attr(ctx, s["text_end"], high_end, set_=(NOEXEC,))
    for name in ("unused kernel image (text/rodata gap)", "unused kernel image (rodata/data gap)"):
        if name in layout:
            free_kernel_image_pages(ctx, name, *layout[name], freed)


def alternative_instructions(ctx: BootContext) -> None:
    """The SMP lock table goes back once the alternatives are patched,
    unless the kernel patched itself for one CPU (one present, or
    ``maxcpus=1``/``nosmp``) while more are possible: then it keeps the table
    to patch the SMP versions back in when another CPU comes up."""
    freed = ctx.arch_state.setdefault("freed_after_boot", {})
    layout = image_layout(ctx)
    possible = ctx.g.nr_cpu_ids
    present = min(ctx.machine.present_cpus or ctx.machine.cpus, possible)
    uniproc = (ctx.cmdline.get("noreplace-smp") is None
               and (present == 1 or ctx.cmdline.setup_max_cpus(ctx.kconfig.nr_cpus) <= 1))
    if uniproc and possible > 1:
        return
    if "SMP alternatives" in layout:
        free_init_pages(ctx, "SMP alternatives", *layout["SMP alternatives"], freed)


def free_initmem(ctx: BootContext) -> None:
    """kernel_init's order: the initrd, free_initmem (the unused decrypted
    bss, then init) and mark_rodata_ro."""
    freed: dict[str, int] = ctx.arch_state.setdefault("freed_after_boot", {})
    layout = image_layout(ctx)
    initrd = ctx.arch_state.get("initrd")  # where reserve_initrd left it
    if initrd is not None:
        start = initrd[0] & ~(PAGE_SIZE - 1)
        end = round_up(initrd[0] + initrd[1], PAGE_SIZE)
        pages = ctx.mm.free_reserved_area(start // PAGE_SIZE, end // PAGE_SIZE)
        freed["initrd"] = pages
        ctx.pr_info(f"Freeing initrd memory: {pages * PAGE_SIZE >> 10}K")
    if "unused decrypted" in layout:
        free_init_pages(ctx, "unused decrypted", *layout["unused decrypted"], freed)
    if "unused kernel image (initmem)" in layout:
        free_kernel_image_pages(ctx, "unused kernel image (initmem)",
                                *layout["unused kernel image (initmem)"], freed)
    mark_rodata_ro(ctx, freed)
    debug_checkwx(ctx)


def debug_checkwx(ctx: BootContext) -> None:
    """CONFIG_DEBUG_WX: the kernel half of the page tables may map nothing
    writable and executable; with PTI, pti_finalize checks the user copy,
    whose kernel-half entries are the kernel table's own (cpu_entry_area,
    entry text, espfix), so it finds what the kernel table has there."""
    if not ctx.kconfig.debug_wx:
        return
    from mmsvc_x86_64 import paging

    mode = paging.paging_mode(ctx)
    kernel_half = (1 << 64) - (1 << (mode.pgdir_shift + 8))
    _report_wx(ctx, ctx.mm.wx_pages(kernel_half, (1 << 64) - kernel_half)
               + _wx_not_present(ctx))
    # the user copy is checked only with NX (ptdump_walk_user_pgd_level_checkwx)
    if ctx.arch_state.get("pti_pages") and nx_enabled(ctx):
        ctx.pr_info("x86/mm: Checking user space page tables")
        _report_wx(ctx, sum(ctx.mm.wx_pages(lo, hi - lo)
                            for lo, hi in ctx.arch_state.get("pti_ranges", ())))


def _wx_not_present(ctx: BootContext) -> int:
    """The walk judges an entry by its RW and NX bits, present or not: the
    pieces of the image PTI took out of the high mapping were made
    writable before, and no-execute only where the CPU has NX."""
    if nx_enabled(ctx):
        return 0
    return sum(hi - lo for lo, hi in ctx.arch_state.get("high_map_removed", ())) // PAGE_SIZE


def _report_wx(ctx: BootContext, pages: int) -> None:
    if pages:
        ctx.pr_info(f"x86/mm: Checked W+X mappings: FAILED, {pages} W+X pages found.")
    else:
        ctx.pr_info("x86/mm: Checked W+X mappings: passed, no W+X pages found.")
