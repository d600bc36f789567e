"""The BPF JIT's first executable memory (kernel/bpf/core.c,
net/core/ptp_classifier.c).

With CONFIG_NETWORK_PHY_TIMESTAMPING, ``sock_init`` (a core_initcall)
creates the PTP classifier, a classic BPF program, and the JIT compiles it.
Its image goes into the module space (``module_alloc``): 6.1 allocates a
whole ``bpf_prog_pack`` (2 MiB per possible node), 5.14 one page for this
program. The area is a vmalloc area like any other: its pages follow the
boot task's interleave policy, and a page array over a page is vmalloc'ed
too. The image is made read-only and executable; on x86 ``set_memory_ro``
also write-protects the direct-map alias of every page, splitting the 2 MiB
and 1 GiB direct-map pages that hold them.
"""

from __future__ import annotations

from mmsvc.api import PAGE_SIZE, BootContext, OutOfMemoryError
from mmsvc_x86_64 import initmem
from mmsvc_x86_64.constants import MODULES_END, modules_vaddr

#: BPF_PROG_PACK_SIZE per possible node (6.1)
PACK_SIZE_PER_NODE = 2 << 20


def _runs(pfns: list[int]) -> list[tuple[int, int]]:
    """Contiguous ``[start, end)`` pfn runs."""
    runs: list[tuple[int, int]] = []
    for pfn in sorted(pfns):
        if runs and runs[-1][1] == pfn:
            runs[-1] = (runs[-1][0], pfn + 1)
        else:
            runs.append((pfn, pfn + 1))
    return runs


def module_alloc(ctx: BootContext, size: int, caller: str) -> int:
    """x86's ``module_alloc``: a vmalloc area in the module space (no KASLR
    offset with ``nokaslr``), pages after the memory policy."""
    start = modules_vaddr(ctx.kconfig.randomize_base)
    return ctx.mm.vmalloc(size, caller=caller, range=(start, MODULES_END))


def ptp_classifier_init(ctx: BootContext) -> None:
    """JIT the PTP classifier: its executable area, read-only (with the
    direct-map alias) and executable (counted in DirectMap like every
    split)."""
    k = ctx.kconfig
    if not (k.bpf_jit and k.network_phy_timestamping):
        return
    nodes = max(1, ctx.arch_state.get("nr_node_ids", 1))
    size = PACK_SIZE_PER_NODE * nodes if ctx.profile_at_least("6.1") else PAGE_SIZE
    try:
        addr = module_alloc(ctx, size, "bpf_prog_pack_alloc" if ctx.profile_at_least("6.1")
                            else "bpf_jit_binary_alloc")
    except OutOfMemoryError:
        # the classifier then runs in the interpreter
        ctx.arch_state["bpf_jit_pages"] = []
        return
    pfns = ctx.mm.vmalloc_area_pfns(addr)
    mm = ctx.mm
    # set_memory_ro: the area, then each page's direct-map alias
    mm.kernel_change_attr(addr, size, clear=["WRITE"], account=True)
    initmem.change_alias_attr(ctx, _runs(pfns), clear=("WRITE",))
    # set_memory_x: no alias processing for the NX bit, nothing without NX
    if initmem.nx_enabled(ctx):
        mm.kernel_change_attr(addr, size, clear=["NOEXEC"], account=True)
    ctx.arch_state["bpf_jit_pages"] = pfns
    ctx.arch_state["bpf_jit_area"] = (addr, size)
