"""mmsvc architecture plugin: x86_64.

The e820 memory map, 4- and 5-level paging, NUMA from SRAT, the x86
``setup_arch`` reservations, ``mem_init`` (swiotlb, memblock_free_all,
vmalloc preallocation), espfix and page-table isolation. It uses only
mmsvc's public hook API (see docs/plugins.md).
"""

from __future__ import annotations

from array import array
from typing import Any

from mmsvc import api
from mmsvc.api import Architecture, ArchPlugin, BootContext, Step
from mmsvc.machine import default_machine
from mmsvc_x86_64 import (
    acpi_nvs,
    bpf,
    cpu_entry_area,
    efi,
    espfix,
    initmem,
    mem_init,
    numa,
    paging,
    pci_mmconfig,
    poking,
    pti,
    setup,
)
from mmsvc_x86_64.constants import MAX_DMA_ADDRESS, PMD_SIZE

__version__ = "0.1.0"

NAME = "x86_64"
#: CONFIG_NR_CPUS of the Debian builds
DEFAULT_NR_CPUS = 8192
#: the static per-cpu section of the Debian 6.1 generic image ("s217088")
DEFAULT_PERCPU_STATIC = 217088

def hugetlb_sizes(machine: Any) -> tuple[int, ...]:
    """arch_hugetlb_valid_size: 2 MiB, and 1 GiB on a CPU with GB pages;
    none without PSE (hugepages_supported)."""
    cpu = machine.cpu_features
    if not cpu.pse:
        return ()
    return (PMD_SIZE, 1 << 30) if cpu.gbpages else (PMD_SIZE,)


def has_transparent_hugepage(machine: Any) -> bool:
    """x86's has_transparent_hugepage: PMD mappings need PSE."""
    return bool(machine.cpu_features.pse)


ARCH = Architecture(
    name=NAME,
    description="x86_64: e820, 4/5-level paging, NUMA (SRAT), espfix, PTI",
    zone_names=("DMA", "DMA32", "Normal", "Movable", "Device"),
    max_order=11,
    pageblock_order=9,
    sparsemem=True,
    section_size_bits=27,
    max_physmem_bits=52,
    pglist_data_size=numa.DEFAULT_PGLIST_DATA_SIZE,
    default_machine=default_machine,
    hugetlb_sizes=hugetlb_sizes,
    has_transparent_hugepage=has_transparent_hugepage,
)


class X86_64(ArchPlugin):
    """The x86_64 architecture: setup_arch and mem_init sub-steps, and the
    steps only x86 has."""

    arch = ARCH

    def setup_arch_steps(self, ctx: BootContext) -> list[Step]:
        return setup.steps(ctx.profile)

    def mem_init_steps(self, ctx: BootContext) -> list[Step]:
        return mem_init.steps()

    def step_setup_per_cpu_areas(self, ctx: BootContext) -> None:
        setup_per_cpu_areas(ctx)

    def step_trap_init(self, ctx: BootContext) -> None:
        cpu_entry_area.setup_cpu_entry_areas(ctx)

    def step_init_espfix_bsp(self, ctx: BootContext) -> None:
        espfix.init_espfix_bsp(ctx)

    def step_pti_init(self, ctx: BootContext) -> None:
        pti.pti_init(ctx)

    def step_poking_init(self, ctx: BootContext) -> None:
        poking.poking_init(ctx)

    def step_init_IRQ(self, ctx: BootContext) -> None:  # noqa: N802 (the kernel's name)
        initmem.protect_idt(ctx)

    def step_driver_init(self, ctx: BootContext) -> None:
        setup.probe_memory_block_size(ctx)

    def step_efi_enter_virtual_mode(self, ctx: BootContext) -> None:
        efi.efi_enter_virtual_mode(ctx)

    def step_efi_free_boot_services(self, ctx: BootContext) -> None:
        efi.efi_free_boot_services(ctx)

    def step_pci_arch_init(self, ctx: BootContext) -> None:
        pci_mmconfig.pci_mmcfg_early_init(ctx)

    def step_acpi_init(self, ctx: BootContext) -> None:
        pci_mmconfig.pci_mmcfg_late_init(ctx)

    def step_pci_subsys_init(self, ctx: BootContext) -> None:
        setup.e820__reserve_resources_late(ctx)

    def step_pci_iommu_init(self, ctx: BootContext) -> None:
        mem_init.pci_iommu_init(ctx)

    def step_arch_cpu_finalize_init(self, ctx: BootContext) -> None:
        initmem.alternative_instructions(ctx)

    def step_sock_init(self, ctx: BootContext) -> None:
        # core_initcalls: arch/x86's e820 one is linked before net's sock_init
        acpi_nvs.e820__register_nvs_regions(ctx, setup.state(ctx)["e820"])
        bpf.ptp_classifier_init(ctx)

    def step_free_initmem(self, ctx: BootContext) -> None:
        initmem.free_initmem(ctx)


#: the plugin object the ``mmsvc`` entry point names
plugin = X86_64()


def _static_from_pages(pages: int | None) -> int:
    """Without a catalogued static size, assume the unit was exactly full."""
    if not pages:
        return DEFAULT_PERCPU_STATIC
    return pages * 4096 - api.PERCPU_MODULE_RESERVE - api.PERCPU_DYNAMIC_RESERVE


def setup_per_cpu_areas(ctx: BootContext) -> None:
    """arch/x86/kernel/setup_percpu.c: the banner, then the embedded first chunk."""
    cpus = ctx.g.nr_cpu_ids
    nr_node_ids = ctx.arch_state.get("nr_node_ids", 1)
    nr_cpus = ctx.kconfig.nr_cpus or DEFAULT_NR_CPUS
    ctx.pr_info(f"setup_percpu: NR_CPUS:{nr_cpus} nr_cpumask_bits:{cpus} "
                f"nr_cpu_ids:{cpus} nr_node_ids:{nr_node_ids}")
    static = ctx.build.percpu_static or _static_from_pages(ctx.build.percpu_unit_pages)
    if ctx.arch_state.get("percpu_alloc") == "page":
        def populate_pte(virts: list[int], pfns: list[int]) -> None:
            # populate_extra_pte: any missing table straight from memblock
            ctx.mm.kernel_map_batch(array("Q", virts), array("Q", [p << 12 for p in pfns]),
                                    tables="memblock")

        api.pcpu_page_first_chunk(ctx, static, numa.cpu_nodes(ctx),
                                  paging.paging_mode(ctx).vmalloc_base, MAX_DMA_ADDRESS,
                                  populate_pte)
    else:
        # PMD-sized atoms on 64-bit whatever the CPU
        api.pcpu_embed_first_chunk(ctx, static, PMD_SIZE, numa.cpus_per_node(ctx),
                                   MAX_DMA_ADDRESS, numa.cpu_nodes(ctx))
    setup.cpumask_allocations(ctx, nr_node_ids, cpus)
