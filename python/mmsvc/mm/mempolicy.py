"""The boot task's memory policy (mm/mempolicy.c).

``numa_policy_init`` (start_kernel) makes the boot task interleave its
allocations that name no node over every node with at least 16 MiB (or the
largest node, when all are smaller): the NUMA hash tables, vmalloc areas and
slab pages made during boot are spread over the nodes. ``numa_default_policy``
(kernel_init, once init memory is freed) brings back the local policy.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.units import PAGE_SIZE

#: a node joins the boot interleave set from this much present memory on
INTERLEAVE_MIN_BYTES = 16 << 20


def interleave_nodes(present_by_node: dict[int, int], page_size: int = PAGE_SIZE) -> list[int]:
    """The nodes ``numa_policy_init`` interleaves over, from each node's
    present pages (nodes without memory are left out)."""
    with_memory = {nid: pages for nid, pages in present_by_node.items() if pages}
    big = [nid for nid, pages in sorted(with_memory.items())
           if pages * page_size >= INTERLEAVE_MIN_BYTES]
    if big or not with_memory:
        return big
    # all too small: the largest (the first of equals)
    return [max(sorted(with_memory), key=lambda nid: with_memory[nid])]


def numa_policy_init(ctx: BootContext) -> None:
    """Interleave the boot task's allocations; print the NUMA balancing line."""
    if not ctx.kconfig.numa:
        ctx.results.setdefault("noop", {})["numa_policy_init"] = "CONFIG_NUMA is off"
        return
    present: dict[int, int] = {}
    for z in ctx.mm.zones():
        present[z["nid"]] = present.get(z["nid"], 0) + z["present"]
    nodes = interleave_nodes(present)
    if nodes:
        ctx.mm.set_mempolicy("interleave", nodes)
    ctx.results["mempolicy"] = {"boot_interleave": nodes}
    k = ctx.kconfig
    if k.numa_balancing and ctx.g.nr_online_nodes > 1 \
            and ctx.machine.parsed_cmdline.get("numa_balancing") is None:
        state = "Enabling" if k.numa_balancing_default_enabled else "Disabling"
        ctx.pr_info(f"mempolicy: {state} automatic NUMA balancing. Configure with "
                    "numa_balancing= or the kernel.numa_balancing sysctl")


def numa_default_policy(ctx: BootContext) -> None:
    """Back to the local policy: after boot, a request without a node goes
    to the allocating cpu's node."""
    if ctx.kconfig.numa:
        ctx.mm.set_mempolicy("local")
