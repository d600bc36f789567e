"""Page-table isolation (arch/x86/mm/pti.c).

The early decision (``pti_check_boottime_disable``, during setup_arch) and
``pti_init`` in mm_init, which announces PTI and builds the user-visible
page tables (cpu_entry_area, entry text) from the buddy allocator.
"""

from __future__ import annotations

from mmsvc.api import PAGE_SIZE, BootContext

PREFIX = "Kernel/User page tables isolation: "


def pti_check_boottime_disable(ctx: BootContext) -> None:
    kc, cmd, cpu = ctx.kconfig, ctx.cmdline, ctx.machine.cpu_features
    enabled = False
    if kc.page_table_isolation:
        vulnerable = cpu.has_meltdown
        if cmd.pti_forced_off:
            if vulnerable:
                ctx.pr_info(PREFIX + "disabled on command line.")
        else:
            if cmd.pti == "on" and not vulnerable:
                ctx.pr_info(PREFIX + "force enabled on command line.")
            enabled = cmd.pti == "on" or vulnerable
    ctx.arch_state["pti"] = enabled


#: sizes the user page tables are walked in
PGDIR_SHIFT_L5, P4D_SHIFT, PUD_SHIFT, PMD_SHIFT = 48, 39, 30, 21
#: ESPFIX_BASE_ADDR (p4d slot -2) and the vsyscall page
ESPFIX_BASE_ADDR = (-2 << P4D_SHIFT) & (2**64 - 1)
VSYSCALL_ADDR = 0xFFFFFFFFFF600000
#: offset of cpu_tss_rw in the percpu section (the Debian 6.1 builds' System.map)
TSS_PERCPU_OFFSET = 0x6000


class UserPageTables:
    """The tables ``pti_user_pagetable_walk_*`` add to the user copy of the
    kernel's page tables, in the order they are taken."""

    def __init__(self, five_level: bool) -> None:
        self.five_level = five_level
        self.present: set[tuple[str, int]] = set()
        self.taken: list[str] = []

    def _need(self, key: tuple[str, int], table: str) -> None:
        if key not in self.present:
            self.present.add(key)
            self.taken.append(table)

    def walk_p4d(self, va: int) -> None:
        # a p4d table under an empty pgd entry; folded away with 4 levels
        if self.five_level:
            self._need(("pgd", va >> PGDIR_SHIFT_L5), "p4d")

    def walk_pmd(self, va: int) -> None:
        self.walk_p4d(va)
        self._need(("p4d", va >> P4D_SHIFT), "pud")
        self._need(("pud", va >> PUD_SHIFT), "pmd")

    def walk_pte(self, va: int) -> None:
        self.walk_pmd(va)
        self._need(("pmd", va >> PMD_SHIFT), "pte")

    def clone_p4d(self, va: int) -> None:
        """pti_clone_p4d: the user p4d entry points at the kernel's pud table."""
        self.walk_p4d(va)
        self.present.add(("p4d", va >> P4D_SHIFT))

    def clone_pmds(self, start: int, end: int) -> None:
        """pti_clone_pgtable at PMD level: the pmd entries are copied."""
        for va in range(start & ~((1 << PMD_SHIFT) - 1), end, 1 << PMD_SHIFT):
            self.walk_pmd(va)


def pti_init(ctx: BootContext) -> None:
    """Announce PTI and build the user page tables: the cpu_entry_area (its
    p4d entry shared), each possible CPU's TSS page (in its percpu unit,
    through the direct map), the entry text (PMD entries), espfix (p4d
    entry shared) and, with ``vsyscall=emulate``, the vsyscall page."""
    if not ctx.arch_state.get("pti"):
        return
    ctx.pr_info(PREFIX + "enabled")
    from mmsvc_x86_64 import initmem, paging
    from mmsvc_x86_64.cpu_entry_area import CPU_ENTRY_AREA_BASE

    mode = paging.paging_mode(ctx)
    upt = UserPageTables(mode.pgdir_shift == PGDIR_SHIFT_L5)
    p4d, pmd = 1 << P4D_SHIFT, 1 << PMD_SHIFT
    # what the user copy maps: the kernel table's own entries there
    ranges = []
    upt.clone_p4d(CPU_ENTRY_AREA_BASE)
    ranges.append((CPU_ENTRY_AREA_BASE & ~(p4d - 1), (CPU_ENTRY_AREA_BASE & ~(p4d - 1)) + p4d))
    percpu = ctx.results["percpu"]
    # each unit's address: through the direct map, or (percpu_alloc=page)
    # in the vmalloc space
    units = percpu.get("unit_vaddrs") or [mode.page_offset + u for u in percpu["units"]]
    for unit in units:
        tss = unit + TSS_PERCPU_OFFSET
        upt.walk_pte(tss)
        ranges.append((tss & ~(PAGE_SIZE - 1), (tss & ~(PAGE_SIZE - 1)) + PAGE_SIZE))
    # the entry text lies in the image's text: the PMDs cloned for it hang
    # off the same pud and pmd tables whatever its offset there
    text = initmem.kernel_virt(ctx, ctx.machine.kernel.load_address)
    upt.clone_pmds(text, text + 1)
    ranges.append((text & ~(pmd - 1), (text & ~(pmd - 1)) + pmd))
    upt.clone_p4d(ESPFIX_BASE_ADDR)
    ranges.append((ESPFIX_BASE_ADDR & ~(p4d - 1), (ESPFIX_BASE_ADDR & ~(p4d - 1)) + p4d))
    if _vsyscall_mode(ctx) == "emulate":
        upt.walk_pte(VSYSCALL_ADDR)
        ranges.append((VSYSCALL_ADDR, VSYSCALL_ADDR + PAGE_SIZE))
    ctx.arch_state["pti_ranges"] = ranges
    for _ in upt.taken:
        ctx.mm.alloc_pages(order=0, gfp="GFP_KERNEL")
    ctx.arch_state["pti_pages"] = len(upt.taken)
    ctx.arch_state["pti_tables"] = list(upt.taken)


def _vsyscall_mode(ctx: BootContext) -> str:
    """``vsyscall=`` or the config's default (the Debian builds': none)."""
    given = ctx.cmdline.get("vsyscall")
    if given in ("emulate", "xonly", "none"):
        return given
    return "emulate" if ctx.kconfig.extra.get("LEGACY_VSYSCALL_EMULATE") == "y" else "none"
