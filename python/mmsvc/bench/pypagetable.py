"""A plain-Python x86_64 4-level page table: the baseline the Rust engine's
map and translate are measured against.

Tables are 512-entry lists; an entry is ``None``, a child table, or a leaf
holding the real x86 encoding (``0x8000000000000163 | phys`` for a 4 KiB
page, ``...1e3`` for a huge one), written the way a Python programmer would
write it without any native help.
"""

from __future__ import annotations

PAGE_SIZES = {1 << 30: 1, 1 << 21: 2, 1 << 12: 3}  # page size -> level of its leaf
SHIFTS = (39, 30, 21, 12)
LEAF_4K = 0x8000000000000163
LEAF_HUGE = 0x80000000000001E3
PFN_MASK = 0x000FFFFFFFFFF000


class PyPageTable:
    """map and translate over nested lists; ``pages`` counts table pages."""

    def __init__(self) -> None:
        self.root: list = [None] * 512
        self.pages = 1

    def map(self, virt: int, phys: int, size: int) -> None:
        leaf_level = PAGE_SIZES[size]
        if (virt | phys) & (size - 1):
            raise ValueError(f"{virt:#x} -> {phys:#x} is not {size:#x}-aligned")
        table = self.root
        for shift in SHIFTS[:leaf_level]:
            idx = (virt >> shift) & 511
            child = table[idx]
            if child is None:
                child = [None] * 512
                table[idx] = child
                self.pages += 1
            elif type(child) is int:
                raise ValueError(f"{virt:#x} is already mapped")
            table = child
        idx = (virt >> SHIFTS[leaf_level]) & 511
        if table[idx] is not None:
            raise ValueError(f"{virt:#x} is already mapped")
        table[idx] = (LEAF_4K if leaf_level == 3 else LEAF_HUGE) | phys

    def translate(self, virt: int) -> int | None:
        table = self.root
        for shift in SHIFTS:
            entry = table[(virt >> shift) & 511]
            if entry is None:
                return None
            if type(entry) is int:
                return (entry & PFN_MASK & ~((1 << shift) - 1)) | (virt & ((1 << shift) - 1))
            table = entry
        return None
