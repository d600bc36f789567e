"""mmsvc architecture plugin: x86_64.

The e820 memory map, 4- and 5-level paging, NUMA from SRAT, the x86
``setup_arch`` reservations, ``mem_init`` (swiotlb, memblock_free_all,
vmalloc preallocation), espfix and page-table isolation. It uses only
mmsvc's public hook API (see docs/plugins.md).
"""

from __future__ import annotations

from mmsvc import api
from mmsvc.api import Architecture, BootContext, Step, hookimpl
from mmsvc_x86_64 import espfix, initmem, mem_init, numa, pti, setup

__version__ = "0.1.0"

NAME = "x86_64"
#: CONFIG_NR_CPUS of the Debian builds
DEFAULT_NR_CPUS = 8192
#: PMD_SIZE: the per-cpu atom when the CPU has PSE
PMD_SIZE = 2 << 20
MAX_DMA_ADDRESS = 16 << 20
#: the static per-cpu section of the Debian 6.1 generic image ("s217088")
DEFAULT_PERCPU_STATIC = 217088

ARCH = Architecture(
    name=NAME,
    description="x86_64: e820, 4/5-level paging, NUMA (SRAT), espfix, PTI",
    zone_names=("DMA", "DMA32", "Normal", "Movable", "Device"),
    max_order=11,
    pageblock_order=9,
    sparsemem=True,
    section_size_bits=27,
    max_physmem_bits=52,
    options={"node_data_size": numa.DEFAULT_NODE_DATA_SIZE},
)


def _mine(ctx: BootContext) -> bool:
    return ctx.arch.name == NAME


@hookimpl
def mmsvc_register_architectures(register) -> None:
    register(ARCH)


@hookimpl
def mmsvc_arch_steps(ctx: BootContext, phase: str) -> list[Step] | None:
    if not _mine(ctx):
        return None
    if phase == "setup_arch":
        return setup.steps(ctx.profile)
    if phase == "mem_init":
        return mem_init.steps()
    return None


@hookimpl
def mmsvc_arch_step(ctx: BootContext, step: Step) -> bool | None:
    if not _mine(ctx):
        return None
    impl = {
        "setup_per_cpu_areas": setup_per_cpu_areas,
        "init_espfix_bsp": espfix.init_espfix_bsp,
        "pti_init": pti.pti_init,
        "free_initmem": initmem.free_initmem,
    }.get(step.name)
    if impl is None:
        return None
    impl(ctx)
    return True


def _static_from_pages(pages: int | None) -> int:
    """Without a catalogued static size, assume the unit was exactly full."""
    if not pages:
        return DEFAULT_PERCPU_STATIC
    return pages * 4096 - api.PERCPU_MODULE_RESERVE - api.PERCPU_DYNAMIC_RESERVE


def setup_per_cpu_areas(ctx: BootContext) -> None:
    """arch/x86/kernel/setup_percpu.c: the banner, then the embedded first chunk."""
    cpus = ctx.machine.cpus
    nr_node_ids = ctx.arch_state.get("nr_node_ids", 1)
    nr_cpus = ctx.kconfig.nr_cpus or DEFAULT_NR_CPUS
    ctx.pr_info(f"setup_percpu: NR_CPUS:{nr_cpus} nr_cpumask_bits:{cpus} "
                f"nr_cpu_ids:{cpus} nr_node_ids:{nr_node_ids}")
    static = ctx.build.percpu_static or _static_from_pages(ctx.build.percpu_unit_pages)
    atom = PMD_SIZE if ctx.machine.cpu_features.pse else 4096
    api.pcpu_embed_first_chunk(ctx, static, atom, numa.cpus_per_node(ctx), MAX_DMA_ADDRESS)
    ctx.g.nr_cpu_ids = cpus
