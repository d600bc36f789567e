"""A plain-Python buddy allocator: the baseline the Rust core is measured against.

It is a faithful but simple binary buddy system (free lists per order kept as
sets, buddy coalescing on free, splitting on allocation) with the same
double-free and wrong-order checks as the core, written the way a Python
programmer would write it without any native help.
"""

from __future__ import annotations


class PyBuddy:
    """Buddy allocator over pfns ``[0, nr_pages)`` with orders ``0 .. max_order-1``."""

    def __init__(self, nr_pages: int, max_order: int = 11) -> None:
        self.max_order = max_order
        self.free_area: list[set[int]] = [set() for _ in range(max_order)]
        self.allocated: dict[int, int] = {}
        self.nr_free = 0
        top = max_order - 1
        pfn = 0
        while pfn < nr_pages:
            order = top
            while order and (pfn & ((1 << order) - 1) or pfn + (1 << order) > nr_pages):
                order -= 1
            self._free_one(pfn, order)
            pfn += 1 << order

    def _free_one(self, pfn: int, order: int) -> None:
        self.nr_free += 1 << order
        while order < self.max_order - 1:
            buddy = pfn ^ (1 << order)
            fl = self.free_area[order]
            if buddy not in fl:
                break
            fl.remove(buddy)
            pfn &= ~(1 << order)
            order += 1
        self.free_area[order].add(pfn)

    def alloc(self, order: int) -> int:
        for o in range(order, self.max_order):
            fl = self.free_area[o]
            if fl:
                pfn = min(fl) if len(fl) < 8 else fl.pop()
                fl.discard(pfn)
                while o > order:
                    o -= 1
                    self.free_area[o].add(pfn + (1 << o))
                self.allocated[pfn] = order
                self.nr_free -= 1 << order
                return pfn
        raise MemoryError(f"order-{order} allocation failed")

    def free(self, pfn: int, order: int) -> None:
        got = self.allocated.get(pfn)
        if got is None:
            raise ValueError(f"pfn {pfn:#x} is not allocated")
        if got != order:
            raise ValueError(f"pfn {pfn:#x} allocated with order {got}, freed with {order}")
        del self.allocated[pfn]
        self._free_one(pfn, order)
