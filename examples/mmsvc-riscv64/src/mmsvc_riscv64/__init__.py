"""An example architecture plugin: riscv64 (Sv39), after Linux 5.14's
arch/riscv/mm/init.c. It is the worked example of docs/plugins.md and uses
only ``mmsvc.api`` and ``mmsvc.machine``.

Memory comes from the device tree's memory nodes (the description's
``firmware.memory`` list); ``setup_bootmem`` reserves the kernel image, the
initrd and the device tree blob; ``paging_init`` runs sparse_init and the
zones (ZONE_DMA32 up to 4 GiB, ZONE_NORMAL above); ``mem_init`` hands the
free memory to the buddy allocator.
"""

from __future__ import annotations

from mmsvc.api import (
    PAGE_SIZE,
    Architecture,
    ArchPlugin,
    BootContext,
    SparseGeometry,
    Step,
    VmemmapTables,
    free_area_init,
    memblock_free_all,
    pcpu_embed_first_chunk,
    sparse_init,
    substep,
)
from mmsvc.machine import (
    GenericFirmware,
    KernelConfig,
    KernelImage,
    MachineDescription,
    MemoryRegion,
)

__version__ = "0.1.0"

NAME = "riscv64"
PMD_SHIFT = 21
#: Sv39: three levels of 9 bits above the 4 KiB page
SV39_LEVEL_SHIFTS = (30, 21, 12)
#: the vmemmap area of the 5.14 Sv39 layout
VMEMMAP_START = 0xFFFFFFCF00000000
MAX_PHYSMEM_BITS = 56
DTB_SIZE = 0x2000
#: the static per-cpu section of the example build
PERCPU_STATIC = 0x13000
#: Sv39 linear map and vmalloc area (5.14 layout)
PAGE_OFFSET = 0xFFFFFFE000000000
VMALLOC_START, VMALLOC_END = 0xFFFFFFD000000000, 0xFFFFFFE000000000

# RISC-V bits of a page-table entry (V R W X U G A D, the PPN from bit 10)
_V, _R, _W, _X, _U, _G, _A, _D = (1 << b for b in range(8))

#: The Sv39 page-table format as plain data: three 9-bit levels, leaves at
#: every level (1 GiB, 2 MiB, 4 KiB), a non-leaf entry is one with R, W and
#: X all clear, and "no-execute" is the absence of X. The Rust engine needs
#: nothing else to map, walk and translate with it.
SV39 = {
    "name": "riscv Sv39 (example plugin)",
    "levels": [
        {"name": "pgd", "shift": 30, "index_bits": 9, "leaf": True},
        {"name": "pmd", "shift": 21, "index_bits": 9, "leaf": True},
        {"name": "pte", "shift": 12, "index_bits": 9, "leaf": True},
    ],
    "va_bits": 39,
    "va_form": "sign_extended",
    "phys_bits": MAX_PHYSMEM_BITS,
    "entry": {
        "valid": {"mask": _V, "value": _V},
        "table": {"mask": _R | _W | _X, "value": 0},
        "table_bits": _V,
        "page_bits": _V | _R,
        "huge_bits": _V | _R,
        "pfn_shift": 10,
        "pfn_mask": ((1 << 44) - 1) << 10,
        "flags": [
            {"flag": "WRITE", "when_set": _W, "when_clear": 0},
            {"flag": "USER", "when_set": _U, "when_clear": 0},
            {"flag": "ACCESSED", "when_set": _A, "when_clear": 0},
            {"flag": "DIRTY", "when_set": _D, "when_clear": 0},
            {"flag": "GLOBAL", "when_set": _G, "when_clear": 0},
            {"flag": "NOEXEC", "when_set": 0, "when_clear": _X},
        ],
    },
}


def default_machine() -> MachineDescription:
    """A 2 GiB QEMU ``virt`` board with 2 harts, RAM at 2 GiB."""
    return MachineDescription(
        arch=NAME,
        firmware=GenericFirmware((MemoryRegion(0x80000000, 2 << 30, "ram"),)),
        kernel=KernelImage(release="5.14.0-riscv64-example", load_address=0x80200000,
                           text=0x800000, rwdata=0x100000, rodata=0x300000, init=0x100000,
                           bss=0x80000, reserved_span=0x1400000),
        kconfig=KernelConfig(sparsemem=True, sparsemem_extreme=True, sparsemem_vmemmap=True,
                             zone_dma32=True, smp=True, nr_cpus=32),
        cpus=2,
        cmdline="console=ttyS0 root=/dev/vda",
        arch_options={"phys_bits": MAX_PHYSMEM_BITS, "dtb_addr": 0xBFE00000},
    )


ARCH = Architecture(
    name=NAME,
    description="riscv64 (Sv39), example third-party plugin",
    zone_names=("DMA32", "Normal", "Movable"),
    max_order=11,
    pageblock_order=9,
    sparsemem=True,
    section_size_bits=27,
    max_physmem_bits=MAX_PHYSMEM_BITS,
    default_machine=default_machine,
)


# -- setup_arch -----------------------------------------------------------

def early_init_dt_scan_memory(ctx: BootContext) -> None:
    """Every ``ram`` region of the device tree becomes memblock memory."""
    for region in ctx.machine.firmware.memory:
        if region.type == "ram":
            ctx.mm.memblock.add(region.start, region.size, caller="early_init_dt_add_memory_arch")


def parse_early_param(ctx: BootContext) -> None:
    """riscv's setup_arch reads the early parameters before setup_bootmem."""
    ctx.parse_early_param()


def setup_bootmem(ctx: BootContext) -> None:
    """Reserve the image, the initrd and the DTB; derive max_pfn and the DMA32 limit."""
    mb, k = ctx.mm.memblock, ctx.machine.kernel
    mb.reserve(k.load_address, k.reserved_span, caller="setup_bootmem")
    rd = ctx.machine.initrd
    if rd is not None and rd.size:
        mb.reserve(rd.start, rd.size, caller="reserve_initrd_mem")
    dtb = ctx.machine.arch_options.get("dtb_addr")
    if dtb is not None:
        mb.reserve(dtb, DTB_SIZE, caller="setup_bootmem")
    ctx.g.max_pfn = ctx.g.max_low_pfn = mb.end_of_dram() // PAGE_SIZE
    ctx.arch_state["dma32_limit_pfn"] = min((4 << 30) // PAGE_SIZE, ctx.g.max_low_pfn)


def setup_vm_final(ctx: BootContext) -> None:
    """The kernel page table (Sv39, described above as plain data) and the
    linear map of all memory, with the largest pages alignment allows.
    Its table pages come from memblock, as in the kernel before the buddy
    allocator exists."""
    mm = ctx.mm
    mm.init_kernel_pagetable(SV39)
    dram = mm.memblock.start_of_dram()  # PAGE_OFFSET maps the start of DRAM
    for start_pfn, end_pfn, _nid in mm.memblock.mem_pfn_ranges():
        start, end = start_pfn * PAGE_SIZE, end_pfn * PAGE_SIZE
        mm.kernel_map_range(PAGE_OFFSET + start - dram, start, end - start)
    ctx.results["direct_map"] = {"virt": PAGE_OFFSET, "length": 1 << 38}
    ctx.results["vmalloc_layout"] = {"start": VMALLOC_START, "end": VMALLOC_END}


def paging_init(ctx: BootContext) -> None:
    """The final page table, sparse_init, then zone_sizes_init."""
    setup_vm_final(ctx)
    geo = SparseGeometry(section_size_bits=27, max_physmem_bits=MAX_PHYSMEM_BITS,
                         mem_section_size=16, memmap_goal=0, memmap_align=1 << PMD_SHIFT)
    sparse_init(ctx, geo, VmemmapTables(VMEMMAP_START, SV39_LEVEL_SHIFTS, PMD_SHIFT))
    free_area_init(ctx, {"DMA32": ctx.arch_state["dma32_limit_pfn"],
                         "Normal": ctx.g.max_low_pfn, "Movable": 0})


def setup_arch_steps() -> list[Step]:
    return [
        substep("early_init_dt_scan_memory", early_init_dt_scan_memory, "DT memory to memblock"),
        substep("parse_early_param", parse_early_param, "the early parameters"),
        substep("setup_bootmem", setup_bootmem, "reserve the image, initrd and DTB"),
        substep("paging_init", paging_init, "sparse_init and the zones"),
    ]


def mem_init_steps() -> list[Step]:
    return [substep("memblock_free_all", memblock_free_all, "free memory to the buddy")]


# -- the plugin -------------------------------------------------------------

class Riscv64(ArchPlugin):
    """riscv64: its setup_arch and mem_init sub-steps and its per-cpu set-up."""

    arch = ARCH

    def setup_arch_steps(self, ctx: BootContext) -> list[Step]:
        return setup_arch_steps()

    def mem_init_steps(self, ctx: BootContext) -> list[Step]:
        return mem_init_steps()

    def step_setup_per_cpu_areas(self, ctx: BootContext) -> None:
        pcpu_embed_first_chunk(ctx, PERCPU_STATIC, PAGE_SIZE, {0: ctx.machine.cpus}, 0)


#: the plugin object the ``mmsvc`` entry point names
plugin = Riscv64()
