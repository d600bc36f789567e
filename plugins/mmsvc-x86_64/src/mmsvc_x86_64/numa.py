"""x86_64 NUMA set-up (arch/x86/mm/numa.c, drivers/acpi/numa/srat.c).

The SRAT memory affinity ranges of the machine (or one faked node covering
all memory) become ``numa_meminfo``; same-node blocks are joined when no other
node's memory lies between them; memblock learns every range's node; each
node with memory gets its ``pg_data_t`` (NODE_DATA) from its own memory.
Nodes the SRAT names only for CPUs are possible but memoryless: 6.1's
free_area_init sets them up, 5.14's init_cpu_to_node does
(:func:`init_cpu_to_node`), and either way they come online for their CPUs.
"""

from __future__ import annotations

from mmsvc.api import (
    KERN_DEBUG,
    KERN_ERR,
    PAGE_SIZE,
    SMP_CACHE_BYTES,
    BootContext,
    div_round_up,
    pglist_data_size,
    round_up,
)
from mmsvc_x86_64.numa_emulation import numa_emulation

#: NODE_MIN_SIZE: with 5.14, nodes with less memory get no NODE_DATA of their own
NODE_MIN_SIZE = 4 << 20
#: sizeof(pg_data_t) of the Debian 6.1 x86_64 builds, for uncatalogued ones
DEFAULT_PGLIST_DATA_SIZE = 0x2A880


def _srat_lines(ctx: BootContext) -> list[tuple[int, int, int, int, bool]]:
    """(nid, pxm, start, end, hotpluggable) of every SRAT memory affinity
    range, in node order."""
    out = []
    for node in ctx.machine.numa:
        pxm = node.pxm if node.pxm is not None else node.nid
        for start, end in node.ranges:
            out.append((node.nid, pxm, start, end, (start, end) in node.hotplug))
    return out


def numa_cleanup_meminfo(ctx: BootContext, blocks: list[list[int]]) -> list[list[int]]:
    """Trim blocks to [0, max_pfn) and join same-node neighbours, printing each join."""
    high = ctx.g.max_pfn << 12
    blks = []
    for nid, start, end in blocks:
        start, end = max(start, 0), min(end, high)
        if start < end:
            blks.append([nid, start, end])
    i = 0
    while i < len(blks):
        j = i + 1
        while j < len(blks):
            bi, bj = blks[i], blks[j]
            if bi[0] != bj[0]:
                j += 1
                continue
            start, end = min(bi[1], bj[1]), max(bi[2], bj[2])
            blocked = any(k[0] != bi[0] and start < k[2] and k[1] < end for k in blks)
            if blocked:
                j += 1
                continue
            ctx.pr_info(f"NUMA: Node {bi[0]} [mem {bi[1]:#010x}-{bi[2] - 1:#010x}] + "
                        f"[mem {bj[1]:#010x}-{bj[2] - 1:#010x}] -> "
                        f"[mem {start:#010x}-{end - 1:#010x}]")
            bi[1], bi[2] = start, end
            del blks[j]
        i += 1
    return blks


LOCAL_DISTANCE, REMOTE_DISTANCE = 10, 20


def acpi_parse_slit(ctx: BootContext, parsed_nodes: set[int]) -> None:
    """The firmware's SLIT, read with the SRAT: refused whole unless every
    domain is 10 from itself and further from the others; else each pair of
    domains that are nodes sets its distance, in a table numa_alloc_distance
    takes from memblock on the first one (a byte per pair of the nodes up to
    the highest parsed)."""
    slit = ctx.machine.numa_distance
    if not slit:
        return
    d = len(slit)
    if any((slit[i][j] != LOCAL_DISTANCE) if i == j else (slit[i][j] <= LOCAL_DISTANCE)
           for i in range(d) for j in range(d)):
        ctx.pr_info("ACPI: SLIT table looks invalid. Not used.")
        return
    pxm_to_node = {(n.pxm if n.pxm is not None else n.nid): n.nid for n in ctx.machine.numa}
    pairs = [(pxm_to_node[i], pxm_to_node[j], slit[i][j]) for i in range(d) for j in range(d)
             if i in pxm_to_node and j in pxm_to_node]
    if not pairs:
        return
    cnt = max(parsed_nodes) + 1
    numa_alloc_distance(ctx, cnt, ctx.g.max_pfn * PAGE_SIZE)
    table = [[LOCAL_DISTANCE if i == j else REMOTE_DISTANCE for j in range(cnt)]
             for i in range(cnt)]
    for a, b, dist in pairs:
        if a < cnt and b < cnt:
            table[a][b] = dist
    ctx.g.numa_distance = tuple(tuple(r) for r in table)


def numa_alloc_distance(ctx: BootContext, cnt: int, max_addr: int) -> None:
    """The node distance table: ``cnt * cnt`` bytes of memblock below
    ``max_addr`` (the mapped memory), and the kernel's debug line."""
    addr = ctx.mm.memblock.phys_alloc_range(cnt * cnt, PAGE_SIZE, 0, max_addr,
                                            caller="numa_alloc_distance")
    ctx.arch_state["numa_distance_table"] = (addr, cnt * cnt)
    ctx.printk(f"NUMA: Initialized distance table, cnt={cnt}", KERN_DEBUG)


def numa_reset_distance(ctx: BootContext) -> None:
    """Give the distance table back to memblock; distances are 10 and 20 again."""
    table = ctx.arch_state.pop("numa_distance_table", None)
    if table is not None:
        ctx.mm.memblock.free(*table, caller="numa_reset_distance")
    ctx.g.numa_distance = ()


def x86_numa_init(ctx: BootContext) -> None:
    """SRAT, else one fake node; then memblock nodes and NODE_DATA."""
    mb = ctx.mm.memblock
    kc = ctx.kconfig
    if not kc.numa:
        mb.set_node(0, (1 << 64) - 1, 0)
        ctx.arch_state["nr_node_ids"] = 1
        ctx.g.node_possible_map = (0,)
        return
    srat = [] if ctx.cmdline.numa_off or ctx.cmdline.numa_noacpi else _srat_lines(ctx)
    ctx.arch_state["srat"] = bool(srat)
    mb.bottom_up = False  # numa_init: top-down again once the SRAT is read
    blocks: list[list[int]] | None = None
    if srat:
        # the processor affinity entries come first; QEMU numbers the APICs
        # as the CPUs, which is what a description assumes
        cpus = sorted((cpu, n.pxm if n.pxm is not None else n.nid, n.nid)
                      for n in ctx.machine.numa for cpu in n.cpus)
        for cpu, pxm, nid in cpus:
            apic = f"{cpu:#04x}" if cpu < 0x100 else f"{cpu:#06x}"
            ctx.pr_info(f"SRAT: PXM {pxm} -> APIC {apic} -> Node {nid}")
        for nid, pxm, start, end, hotplug in srat:
            ctx.pr_info(f"ACPI: SRAT: Node {nid} PXM {pxm} [mem {start:#010x}-{end - 1:#010x}]"
                        + (" hotplug" if hotplug else ""))
            if hotplug:
                # the memory there (if any yet) is hotpluggable: movable_node
                # keeps memblock off it and makes it ZONE_MOVABLE
                mb.mark_hotplug(start, end - start)
            # memory the SRAT describes may come later (hotplug): it is possible
            ctx.g.max_possible_pfn = max(ctx.g.max_possible_pfn, div_round_up(end, PAGE_SIZE))
        acpi_parse_slit(ctx, {nid for nid, *_ in srat} | set(_cpu_nodes(ctx).values()))
        blocks = _emulated(ctx, numa_cleanup_meminfo(
            ctx, [[nid, start, end] for nid, _pxm, start, end, _hp in srat]))
        if not numa_meminfo_cover_memory(ctx, blocks):
            # the SRAT is not used: one faked node, and CPUs have no node
            blocks = None
            ctx.arch_state["srat"] = False
            ctx.arch_state.pop("emu_nid_to_phys", None)
            numa_reset_distance(ctx)
    if blocks is None:
        ctx.pr_info("NUMA turned off" if ctx.cmdline.numa_off else "No NUMA configuration found")
        end = ctx.g.max_pfn << 12
        ctx.pr_info(f"Faking a node at [mem {0:#018x}-{end - 1:#018x}]")
        blocks = _emulated(ctx, numa_cleanup_meminfo(ctx, [[0, 0, end]]))
    for nid, start, end in blocks:
        mb.set_node(start, end - start, nid)
    nids = sorted({b[0] for b in blocks})
    cpu_nodes = _cpu_nodes(ctx).values() if "emu_nid_to_phys" not in ctx.arch_state else ()
    possible = sorted(set(nids) | set(cpu_nodes)) or [0]
    ctx.g.node_possible_map = tuple(possible)
    ctx.arch_state["nr_node_ids"] = possible[-1] + 1
    ctx.arch_state["numa_blocks"] = blocks
    for nid in nids:
        present = [(s, e) for s, e, n in mb.mem_pfn_ranges(nid)]
        if not present:
            continue
        lo, hi = present[0][0] << 12, present[-1][1] << 12
        if hi - lo < NODE_MIN_SIZE and not ctx.profile_at_least("6.1"):
            continue
        alloc_node_data(ctx, nid)


def _emulated(ctx: BootContext, blocks: list[list[int]]) -> list[list[int]]:
    """The blocks ``numa=fake=`` makes of *blocks*, or *blocks* unchanged."""
    fake = ctx.cmdline.numa_fake
    if fake is None:
        return blocks
    emulated = numa_emulation(ctx, blocks, sorted({b[0] for b in blocks}), fake)
    return blocks if emulated is None else numa_cleanup_meminfo(ctx, emulated)


def numa_meminfo_cover_memory(ctx: BootContext, blocks: list[list[int]]) -> bool:
    """The nodes must hold all the memory below max_pfn but 1 MiB, or the
    kernel does not use them."""
    memory = [(s, e) for s, e, _ in ctx.mm.memblock.mem_pfn_ranges()]

    def ram(start_pfn: int, end_pfn: int) -> int:
        return sum(max(0, min(e, end_pfn) - max(s, start_pfn)) for s, e in memory)

    numaram = sum(ram(div_round_up(start, PAGE_SIZE), end // PAGE_SIZE)
                  for _nid, start, end in blocks)
    e820ram = ram(0, ctx.g.max_pfn)
    if e820ram - numaram >= (1 << 20) // PAGE_SIZE:
        ctx.printk(f"NUMA: nodes only cover {(numaram * PAGE_SIZE) >> 20}MB of your "
                   f"{(e820ram * PAGE_SIZE) >> 20}MB e820 RAM. Not used.", KERN_ERR)
        return False
    return True


def alloc_node_data(ctx: BootContext, nid: int) -> None:
    """A node's page-rounded ``pg_data_t``, node-local if it can be, and the
    node is online."""
    mb = ctx.mm.memblock
    size = round_up(pglist_data_size(ctx), PAGE_SIZE)
    pa = mb.phys_alloc_try_nid(size, SMP_CACHE_BYTES, nid)
    ctx.pr_info(f"NODE_DATA({nid}) allocated [mem {pa:#010x}-{pa + size - 1:#010x}]")
    ctx.results.setdefault("node_data", {})[nid] = pa
    owner = _node_of_pfn(mb, pa >> 12)
    if owner is not None and owner != nid:
        ctx.pr_info(f"    NODE_DATA({nid}) on node {owner}")


def _cpu_nodes(ctx: BootContext) -> dict[int, int]:
    """The node of each possible CPU the SRAT places (``numa_cpu_node``;
    none when the SRAT was not read); under NUMA emulation, the first
    emulated node cut from its physical one."""
    if not ctx.arch_state.get("srat"):
        return {}
    nodes = {cpu: n.nid for n in ctx.machine.numa for cpu in n.cpus if cpu < ctx.machine.cpus}
    emu = ctx.arch_state.get("emu_nid_to_phys")
    if emu:
        first: dict[int, int] = {}
        for e, p in sorted(emu.items()):
            first.setdefault(p, e)
        nodes = {cpu: first.get(p, 0) for cpu, p in nodes.items()}
    return nodes


def init_cpu_to_node(ctx: BootContext) -> None:
    """Each CPU's node comes online (``cpu_to_node``). With 5.14 a node that got no NODE_DATA
    (no memory) gets it here, and its empty pgdat is set up
    (init_memory_less_node); 6.1 already did that in free_area_init."""
    if not ctx.kconfig.numa:
        return
    ctx.g.cpu_to_node = tuple(cpu_nodes(ctx))
    emu = ctx.arch_state.get("emu_nid_to_phys")
    if emu:
        # numa_add_cpu under emulation: every emulated node of the CPU's
        # physical node
        ctx.g.cpu_cpumask_nodes = tuple(
            tuple(e for e in sorted(emu) if emu[e] == emu.get(nid, nid))
            for nid in ctx.g.cpu_to_node)
    for nid in sorted(set(_cpu_nodes(ctx).values())):
        if nid in ctx.g.node_online_map:
            continue
        if not ctx.profile_at_least("6.1"):
            alloc_node_data(ctx, nid)
            zero = f"{0:#018x}"
            ctx.pr_info(f"Initmem setup node {nid} [mem {zero}-{zero}]")
        ctx.g.node_set_online([nid])


def _node_of_pfn(mb, pfn: int) -> int | None:
    for s, e, nid in mb.mem_pfn_ranges():
        if s <= pfn < e:
            return nid
    return None


def cpus_per_node(ctx: BootContext) -> dict[int, int]:
    """How many possible CPUs each node has (SRAT CPU affinity, memoryless
    nodes included). numa_init_array first deals every CPU round-robin over
    the nodes with memory; init_cpu_to_node then moves each present CPU to
    its SRAT node. A hotplug CPU has no APIC id yet, so it keeps its
    round-robin node, whatever the SRAT says of it."""
    nodes = sorted({nid for nid, *_ in ctx.arch_state.get("numa_blocks", [[0, 0, 0]])})
    counts = {nid: 0 for nid in ctx.g.node_possible_map if ctx.kconfig.numa}
    counts.update({nid: 0 for nid in nodes or [0]})
    for nid in cpu_nodes(ctx):
        counts[nid] += 1
    return dict(sorted(counts.items()))


def cpu_nodes(ctx: BootContext) -> list[int]:
    """``early_cpu_to_node`` of each possible CPU, in CPU order (see
    :func:`cpus_per_node`)."""
    nodes = sorted({nid for nid, *_ in ctx.arch_state.get("numa_blocks", [[0, 0, 0]])})
    known = set(nodes or [0]) | (set(ctx.g.node_possible_map) if ctx.kconfig.numa else set())
    listed = _cpu_nodes(ctx)
    present = ctx.machine.present_cpus or ctx.machine.cpus
    out = []
    for cpu in range(ctx.g.nr_cpu_ids):
        nid = listed.get(cpu) if cpu < present else None
        if nid is None or nid not in known:
            nid = nodes[cpu % len(nodes)] if nodes else 0
        out.append(nid)
    return out
