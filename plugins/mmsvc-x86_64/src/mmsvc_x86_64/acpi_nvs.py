"""ACPI NVS memory registered for hibernation (arch/x86/kernel/e820.c,
drivers/acpi/nvs.c).

``e820__register_nvs_regions`` (a core_initcall) hands every ACPI NVS range
of the e820 table to ``acpi_nvs_register``, which says so and keeps a
``struct nvs_region`` for the range and a ``struct nvs_page`` for every page
of it (kmalloc-32 and kmalloc-64 objects), to save and restore them across
hibernation. UEFI firmware has several such ranges, some 500 pages on OVMF:
a dozen slab pages taken just before the BPF JIT's first pack.
"""

from __future__ import annotations

from mmsvc.api import PAGE_SIZE, BootContext
from mmsvc.machine import e820 as e820mod

#: sizeof(struct nvs_region) and sizeof(struct nvs_page) on x86_64
NVS_REGION_SIZE = 32
NVS_PAGE_SIZE = 56


def e820__register_nvs_regions(ctx: BootContext, table: list[e820mod.E820Entry]) -> None:
    mm = ctx.mm
    for entry in table:
        if entry.type != e820mod.E820_NVS or entry.size <= 0:
            continue
        start, size = entry.addr, entry.size
        mm.kmalloc(NVS_REGION_SIZE)
        ctx.pr_info(f"ACPI: PM: Registering ACPI NVS region [mem {start:#010x}-"
                    f"{start + size - 1:#010x}] ({size} bytes)")
        while size > 0:
            mm.kmalloc(NVS_PAGE_SIZE)
            step = min(size, PAGE_SIZE - start % PAGE_SIZE)
            start, size = start + step, size - step
