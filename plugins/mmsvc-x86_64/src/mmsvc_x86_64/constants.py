"""x86_64 constants of the physical layout (arch/x86/include/asm), defined
once for the plugin's modules."""

PMD_SHIFT = 21
#: PMD_SIZE: a 2 MiB page, the per-cpu atom with PSE, the image's alignment
PMD_SIZE = 1 << PMD_SHIFT
#: MAX_DMA_ADDRESS: the end of ZONE_DMA
MAX_DMA_ADDRESS = 16 << 20
#: MAX_DMA32_PFN: the end of ZONE_DMA32
MAX_DMA32_PFN = (4 << 30) >> 12
#: ISA_END_ADDRESS: the end of the ISA range, always mapped
ISA_END_ADDRESS = 0x100000
#: __START_KERNEL_map: the kernel image mapping maps physical 0 here
START_KERNEL_MAP = 0xFFFFFFFF80000000
#: MODULES_END (arch/x86/include/asm/pgtable_64_types.h)
MODULES_END = 0xFFFFFFFFFF000000


def modules_vaddr(randomize_base: bool) -> int:
    """MODULES_VADDR: right after the image mapping, KERNEL_IMAGE_SIZE long
    (1 GiB with CONFIG_RANDOMIZE_BASE, else 512 MiB)."""
    return START_KERNEL_MAP + ((1 << 30) if randomize_base else (512 << 20))
