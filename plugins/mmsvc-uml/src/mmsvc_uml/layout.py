"""UML's memory layout numbers (arch/um/kernel/um_arch.c: linux_main).

Virtual addresses of the UML binary map to "physical" ones by subtracting
``uml_physmem`` (the page-aligned ``__binary_start``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsvc.api import BootContext

PAGE_SIZE = 4096
#: __binary_start of the x86_64 UML link (0x60000000)
UML_PHYSMEM = 0x60000000
MB4 = 4 << 20


def round_up(x: int, a: int) -> int:
    return -(-x // a) * a


@dataclass(frozen=True)
class UmlLayout:
    """Addresses linux_main computes before start_kernel (virtual)."""

    uml_physmem: int
    physmem_size: int
    highmem: int
    iomem_size: int
    image_end: int
    brk_start: int

    @property
    def uml_reserved(self) -> int:
        # ROUND_4M in um_arch.c adds 4 MiB before masking (not a ceiling)
        return ((self.brk_start + MB4) & ~(MB4 - 1)) + MB4

    @property
    def high_physmem(self) -> int:
        return self.uml_physmem + self.physmem_size

    @property
    def end_iomem(self) -> int:
        return self.high_physmem + self.iomem_size

    def pa(self, vaddr: int) -> int:
        return vaddr - self.uml_physmem


def uml_layout(ctx: BootContext) -> UmlLayout:
    m = ctx.machine
    fw = m.firmware
    base = ctx.build.uml_binary_start or UML_PHYSMEM
    image_end = base + round_up(m.kernel.image_end or m.kernel.reserved_span, PAGE_SIZE)
    gap = fw.exec_shield_gap if fw.exec_shield_gap > (1 << 20) else 0
    brk_start = image_end + round_up(gap, PAGE_SIZE)
    return UmlLayout(
        uml_physmem=base,
        physmem_size=m.uml_physmem_size(),
        highmem=0,
        iomem_size=round_up(getattr(fw, "iomem", 0) or 0, PAGE_SIZE),
        image_end=image_end,
        brk_start=brk_start,
    )
