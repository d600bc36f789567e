"""The cpu_entry_area (arch/x86/mm/cpu_entry_area.c, asm/cpu_entry_area.h).

Every possible CPU gets a ``struct cpu_entry_area`` in a fixed virtual
range: one read-only IDT page at ``CPU_ENTRY_AREA_BASE``, then the CPUs'
areas back to back. ``trap_init`` maps each CPU's pages one by one with
``set_pte_vaddr``; the page tables it meets missing (a PUD table under the
p4d entry, a PMD table per 1 GiB, a PTE table per 2 MiB) come from memblock
(``spp_getpage``), so their number grows with the CPUs.

Per CPU, mapped in this order: the GDT page, the entry stack page, the TSS,
the DF, NMI, DB and MCE exception stacks (each above an unmapped guard
page; the VC stacks only under SEV-ES), and, on Intel CPUs with
CONFIG_CPU_SUP_INTEL, the debug store page and its BTS/PEBS buffers (mapped
PAGE_NONE, which still needs the tables).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsvc.api import PAGE_SIZE, BootContext

#: CPU_ENTRY_AREA_BASE on x86_64 (p4d slot -4), 4- and 5-level paging alike
CPU_ENTRY_AREA_BASE = (-4 << 39) & (2**64 - 1)
PMD_SIZE = 2 << 20
PUD_SIZE = 1 << 30

#: sizeof(struct tss_struct): the hardware TSS page and the I/O bitmaps
TSS_PAGES = 5
#: struct cea_exception_stacks: DF, NMI, DB, MCE, VC, VC2, each a guard page
#: and a stack, and a top guard page; the first four are mapped
ESTACK_NAMES = ("DF", "NMI", "DB", "MCE", "VC", "VC2")
ESTACKS_MAPPED = 4
#: sizeof(struct debug_store) and sizeof(struct debug_store_buffers) in pages
DEBUG_STORE_PAGES = 1
DEBUG_BUFFER_PAGES = 32


@dataclass(frozen=True)
class CpuEntryAreaLayout:
    """One CPU's area: its size and the page offsets trap_init maps."""

    exception_stack_pages: int

    @property
    def estacks_pages(self) -> int:
        return len(ESTACK_NAMES) * (1 + self.exception_stack_pages) + 1

    @property
    def pages(self) -> int:
        """sizeof(struct cpu_entry_area) in pages."""
        return 2 + TSS_PAGES + self.estacks_pages + DEBUG_STORE_PAGES + DEBUG_BUFFER_PAGES

    def mapped_pages(self, debug_store: bool) -> list[int]:
        """Page offsets within the area that get a PTE, in mapping order."""
        out = [0, 1]                                  # gdt, entry stack
        out += range(2, 2 + TSS_PAGES)                # tss
        base = 2 + TSS_PAGES
        step = 1 + self.exception_stack_pages
        for k in range(ESTACKS_MAPPED):
            first = base + k * step + 1               # above the guard page
            out += range(first, first + self.exception_stack_pages)
        if debug_store:
            ds = base + self.estacks_pages
            out += range(ds, ds + DEBUG_STORE_PAGES + DEBUG_BUFFER_PAGES)
        return out


def layout(ctx: BootContext) -> CpuEntryAreaLayout:
    """EXCEPTION_STKSZ is two pages from 5.15 on (one in 5.14)."""
    return CpuEntryAreaLayout(exception_stack_pages=2 if ctx.profile_at_least("6.1") else 1)


def table_pages(lay: CpuEntryAreaLayout, nr_cpus: int, debug_store: bool) -> list[str]:
    """The page tables set_pte_vaddr allocates, in order, mapping ``nr_cpus``
    areas: ``"pud"``, ``"pmd"`` or ``"pte"`` for each missing table."""
    seen_pmd: set[int] = set()
    seen_pte: set[int] = set()
    out: list[str] = []
    offsets = lay.mapped_pages(debug_store)
    per_cpu = CPU_ENTRY_AREA_BASE + PAGE_SIZE          # after the read-only IDT page
    for cpu in range(nr_cpus):
        area = per_cpu + cpu * lay.pages * PAGE_SIZE
        for off in offsets:
            va = area + off * PAGE_SIZE
            if not out:
                out.append("pud")
            if va // PUD_SIZE not in seen_pmd:
                seen_pmd.add(va // PUD_SIZE)
                out.append("pmd")
            if va // PMD_SIZE not in seen_pte:
                seen_pte.add(va // PMD_SIZE)
                out.append("pte")
    return out


def setup_cpu_entry_areas(ctx: BootContext) -> None:
    """trap_init: map every possible CPU's area, taking each missing page
    table from memblock as spp_getpage does before the buddy allocator."""
    debug_store = ctx.kconfig.cpu_sup_intel and ctx.machine.cpu_features.vendor == "Intel"
    tables = table_pages(layout(ctx), ctx.g.nr_cpu_ids, debug_store)
    for _ in tables:
        ctx.mm.memblock.alloc(PAGE_SIZE, PAGE_SIZE, caller="spp_getpage")
    ctx.arch_state["cpu_entry_area_tables"] = len(tables)
