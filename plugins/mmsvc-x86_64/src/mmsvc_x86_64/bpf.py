"""The BPF JIT's first executable memory (kernel/bpf/core.c,
net/core/ptp_classifier.c).

With CONFIG_NETWORK_PHY_TIMESTAMPING, ``sock_init`` (a core_initcall)
creates the PTP classifier, a classic BPF program, and the JIT compiles it.
Its image goes into module space: 6.1 allocates a whole ``bpf_prog_pack``
(2 MiB per possible node, its pages interleaved over the nodes, since the
boot task's memory policy is interleave), 5.14 one page for this program.
The image is made read-only, and on x86 ``set_memory_ro`` also
write-protects the direct-map alias of every page, splitting the 2 MiB and
1 GiB direct-map pages that hold them.
"""

from __future__ import annotations

import array

from mmsvc.api import PAGE_SIZE, BootContext

#: BPF_PROG_PACK_SIZE per possible node (6.1)
PACK_SIZE_PER_NODE = 2 << 20
#: vm_area_alloc_pages asks the bulk allocator for at most this many pages
VMALLOC_BULK_MAX = 100


def _interleaved_pages(ctx: BootContext, count: int, nodes: int) -> list[int]:
    """``vm_area_alloc_pages`` under the interleave policy: bulk requests of
    up to 100 pages, each split evenly over the nodes in turn."""
    pfns: list[int] = []
    node = 0
    while len(pfns) < count:
        request = min(VMALLOC_BULK_MAX, count - len(pfns))
        per_node, extra = divmod(request, nodes)
        for i in range(nodes):
            n = per_node + (1 if i < extra else 0)
            if not n:
                continue
            out = array.array("Q", bytes(8 * n))
            got = ctx.mm.alloc_pages_bulk(out, 0, "GFP_KERNEL", node)
            pfns.extend(out[:got])
            node = (node + 1) % nodes
            if got < n:
                return pfns
    return pfns


def _runs(pfns: list[int]) -> list[tuple[int, int]]:
    """Contiguous ``[start, end)`` pfn runs."""
    runs: list[tuple[int, int]] = []
    for pfn in sorted(pfns):
        if runs and runs[-1][1] == pfn:
            runs[-1] = (runs[-1][0], pfn + 1)
        else:
            runs.append((pfn, pfn + 1))
    return runs


def ptp_classifier_init(ctx: BootContext) -> None:
    """JIT the PTP classifier: allocate its executable pages and make their
    direct-map alias read-only (counted in DirectMap like every split)."""
    k = ctx.kconfig
    if not (k.bpf_jit and k.network_phy_timestamping):
        return
    nodes = max(1, ctx.arch_state.get("nr_node_ids", 1))
    count = PACK_SIZE_PER_NODE * nodes // PAGE_SIZE if ctx.profile_at_least("6.1") else 1
    pfns = _interleaved_pages(ctx, count, nodes)
    if len(pfns) < count:
        # module_alloc fails and gives back what it got; the classifier
        # then runs in the interpreter
        for pfn in pfns:
            ctx.mm.free_pages(pfn, 0)
        ctx.arch_state["bpf_jit_pages"] = []
        return
    virt = ctx.results["direct_map"]["virt"]
    for start, end in _runs(pfns):
        ctx.mm.kernel_change_attr(virt + (start << 12), (end - start) << 12, clear=["WRITE"],
                                  account=True)
    ctx.arch_state["bpf_jit_pages"] = pfns
