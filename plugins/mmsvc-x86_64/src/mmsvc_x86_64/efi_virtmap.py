"""The page tables UEFI's runtime services run on
(arch/x86/platform/efi/efi.c, efi_64.c; populate_pgd in
arch/x86/mm/pat/set_memory.c).

``__efi_enter_virtual_mode`` gives the firmware a page table of its own,
``efi_pgd``, and a new memory map: every region it may touch (the runtime
ones, and boot-services code and data) is mapped twice there, 1:1 and at a
virtual address handed out downwards from ``EFI_VA_START`` (keeping the
region's offset within 2 MiB). ``populate_pgd`` builds each mapping with the
biggest pages the range allows (1 GiB with GB pages, then 2 MiB, 4 KiB at
the unaligned ends) and takes a page from the buddy allocator for every
table it lacks. The new map grows by doubling (``realloc_pages``); then the
map itself and page 0 are mapped 1:1 (``efi_setup_page_tables``), and
without ``efi=debug`` ``efi_unmap_boot_services`` copies the map without
the boot-services entries into a page of its own. Together that is some
40 pages on OVMF, made just before the BPF JIT's first pack finds its own.

The simulation counts the tables the efi_pgd would need and takes those
pages in the kernel's order; the efi_pgd itself is not built.
"""

from __future__ import annotations

from mmsvc.api import PAGE_SIZE, BootContext, round_down, round_up
from mmsvc.machine.efi import (
    EFI_BOOT_SERVICES_CODE,
    EFI_BOOT_SERVICES_DATA,
    EFI_MEMORY_RUNTIME,
    EfiMemoryDescriptor,
)

TABLE_GFP = "GFP_KERNEL|__GFP_ZERO"
EFI_VA_START = (1 << 64) - (4 << 30)
EFI_VA_END = (1 << 64) - (68 << 30)
PMD_SIZE, PUD_SIZE = 2 << 20, 1 << 30


class EfiPgd:
    """Which tables the efi_pgd has; ``table()`` takes a page for a new one."""

    def __init__(self, ctx: BootContext, five_level: bool) -> None:
        self.ctx, self.five_level = ctx, five_level
        self.tables: set[tuple[str, int]] = set()
        #: address ranges mapped by 1 GiB ("pud") and 2 MiB ("pmd") leaves
        self.leaves: dict[str, list[tuple[int, int]]] = {"pud": [], "pmd": []}
        self.pages = 0

    def _leaf(self, level: str, addr: int) -> bool:
        return any(lo <= addr < hi for lo, hi in self.leaves[level])

    def _upper(self, addr: int) -> tuple[int, int]:
        if self.five_level:
            return addr >> 48 & 511, addr >> 39
        return addr >> 39 & 511, addr >> 39

    def table(self, kind: str, key: int) -> None:
        if (kind, key) in self.tables:
            return
        self.ctx.mm.alloc_pages(0, gfp=TABLE_GFP)
        self.tables.add((kind, key))
        self.pages += 1

    def alloc_page_tables(self) -> None:
        """efi_alloc_page_tables: the tables above EFI_VA_END's pud entry."""
        pgd, p4d = self._upper(EFI_VA_END)
        if self.five_level:
            self.table("p4d", pgd)
        self.table("pud", p4d)

    def populate(self, addr: int, pages: int) -> None:
        """populate_pgd of ``[addr, addr + pages * 4K)``."""
        if pages <= 0:
            return
        pgd, p4d = self._upper(addr)
        if self.five_level:
            self.table("p4d", pgd)
        self.table("pud", p4d)
        start, end = addr, addr + pages * PAGE_SIZE
        if start % PUD_SIZE:
            head_end = min(round_up(start + 1, PUD_SIZE), end)
            self._pmd_table(start)
            self._populate_pmd(start, head_end)
            start = head_end
        if self.ctx.machine.cpu_features.gbpages and end - start >= PUD_SIZE:
            whole = (end - start) // PUD_SIZE * PUD_SIZE
            self.leaves["pud"].append((start, start + whole))
            start += whole
        if start < end:
            self._pmd_table(start)
            self._populate_pmd(start, end)

    def _pmd_table(self, addr: int) -> None:
        if not self._leaf("pud", addr):
            self.table("pmd", addr >> 30)

    def _pte_table(self, addr: int) -> None:
        if not self._leaf("pmd", addr):
            self.table("pte", addr >> 21)

    def _populate_pmd(self, start: int, end: int) -> None:
        if start % PMD_SIZE:
            head_end = min(round_up(start + 1, PMD_SIZE), end)
            self._pte_table(start)
            start = head_end
        if end - start >= PMD_SIZE:
            # 2 MiB leaves, all in the pmd table of the range's first GiB
            # (the kernel's loop keeps that pud, past a GiB boundary too)
            whole = (end - start) // PMD_SIZE * PMD_SIZE
            self.leaves["pmd"].append((start, start + whole))
            start += whole
        if start < end:
            self._pte_table(start)


def should_map_region(md: EfiMemoryDescriptor) -> bool:
    """Runtime regions, and boot-services code and data (SetVirtualAddressMap
    may still touch them)."""
    return bool(md.attribute & EFI_MEMORY_RUNTIME) or md.type in (
        EFI_BOOT_SERVICES_CODE, EFI_BOOT_SERVICES_DATA)


def merge_regions(memmap: list[EfiMemoryDescriptor]) -> list[EfiMemoryDescriptor]:
    """efi_merge_regions: an entry that follows on from the one before it
    with the same type and attributes joins it."""
    out: list[EfiMemoryDescriptor] = []
    for md in memmap:
        prev = out[-1] if out else None
        if prev is not None and (prev.type, prev.attribute) == (md.type, md.attribute) \
                and prev.end == md.phys_addr:
            out[-1] = EfiMemoryDescriptor(prev.type, prev.phys_addr, prev.pages + md.pages,
                                          prev.attribute)
        else:
            out.append(md)
    return out


def next_va(efi_va: int, md: EfiMemoryDescriptor) -> int:
    """efi_map_region's virtual address for *md*, below *efi_va*: the same
    offset within 2 MiB as its physical address."""
    va = efi_va - (md.pages * PAGE_SIZE)
    aligned = round_down(va, PMD_SIZE) + md.phys_addr % PMD_SIZE
    return aligned - PMD_SIZE if aligned > va else aligned


def enter_virtual_mode(ctx: BootContext, memmap: list[EfiMemoryDescriptor], desc_size: int,
                       *, unmap_boot_services: bool) -> dict[str, int]:
    """The page allocations of __efi_enter_virtual_mode, in order."""
    mm = ctx.mm
    pgd = EfiPgd(ctx, ctx.machine.five_level_paging)
    order = 1 if ctx.kconfig.page_table_isolation else 0  # PGD_ALLOCATION_ORDER
    mm.alloc_pages(order, gfp=TABLE_GFP)
    pgd.alloc_page_tables()
    efi_va, left, pg_shift, memmap_pfn = EFI_VA_START, 0, 0, None
    count = boot_services = 0
    for md in reversed(merge_regions(memmap)):  # mapped last entry first
        if not should_map_region(md):
            continue
        pgd.populate(md.phys_addr, md.pages)
        va = next_va(efi_va, md)
        if va >= EFI_VA_END:
            efi_va = va
            pgd.populate(va, md.pages)
        if left < desc_size:
            # realloc_pages: twice the size, the old copy freed
            new = mm.alloc_pages(pg_shift + 1, gfp="GFP_KERNEL")
            if memmap_pfn is not None:
                mm.free_pages(memmap_pfn, pg_shift)
            memmap_pfn = new
            left += PAGE_SIZE << pg_shift
            pg_shift += 1
        left -= desc_size
        count += 1
        boot_services += md.type in (EFI_BOOT_SERVICES_CODE, EFI_BOOT_SERVICES_DATA) \
            and not md.attribute & EFI_MEMORY_RUNTIME
    if memmap_pfn is not None:
        # efi_setup_page_tables: the new map, and page 0, mapped 1:1
        pgd.populate(memmap_pfn * PAGE_SIZE, 1 << pg_shift)
        pgd.populate(0, 1)
    if unmap_boot_services and count:
        # efi_memmap_alloc (late): the map without the boot-services entries
        size = max(1, (count - boot_services) * desc_size)
        mm.alloc_pages(max(0, (size - 1).bit_length() - 12), gfp="GFP_KERNEL")
    return {"regions": count, "table_pages": pgd.pages, "memmap_order": pg_shift}
