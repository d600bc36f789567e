"""``numa=fake=``: NUMA emulation (arch/x86/mm/numa_emulation.c).

The physical ``numa_meminfo`` (SRAT nodes, or the one faked node) is cut
into emulated nodes before the nodes are registered. Three forms:

* ``numa=fake=N``: N nodes of equal memory (holes do not count), interleaved
  over the physical nodes, in 32 MiB steps; the first nodes take the
  rounding remainder, one 32 MiB step each.
* ``numa=fake=<size>M|G``: nodes of that much memory (at least the memory
  over the maximum node count, at least 32 MiB), interleaved the same way.
* ``numa=fake=NU``: N nodes per physical node, cut evenly from each.

A node never leaves less than 32 MiB of memory below 4 GiB (DMA32) to the
next one, and takes the rest of its physical block when what would remain
is smaller than a node. Each emulated node prints a "Faking node" line and
maps to the physical node it was cut from; the node distance table is
rebuilt for the emulated nodes (one memblock allocation of cnt² bytes).
A ``:d,d,...`` suffix gives the distances row by row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mmsvc.api import KERN_ERR, PAGE_SIZE, BootContext, div_round_up, round_down, round_up

#: FAKE_NODE_MIN_SIZE: emulated nodes are whole multiples of 32 MiB
FAKE_NODE_MIN_SIZE = 32 << 20
#: PFN_PHYS(MAX_DMA32_PFN)
DMA32_END = 1 << 32
#: MAX_NUMNODES of the Debian builds (CONFIG_NODES_SHIFT=10)
MAX_NUMNODES = 1 << 10
#: NR_NODE_MEMBLKS
NR_NODE_MEMBLKS = 2 * MAX_NUMNODES
LOCAL_DISTANCE, REMOTE_DISTANCE = 10, 20
_U64 = (1 << 64) - 1


class EmulationFailed(Exception):
    """Emulation gave up (the kernel prints why and keeps the physical nodes)."""


@dataclass
class _Splitter:
    """The state of one split: the physical blocks still to cut (``pi``),
    the emulated blocks made (``ei``) and which physical node each emulated
    node came from."""

    ctx: BootContext
    pi: list[list[int]]  # [nid, start, end]
    memory: list[tuple[int, int]]  # memblock.memory, pfn ranges
    ei: list[list[int]] = field(default_factory=list)
    emu_to_phys: dict[int, int] = field(default_factory=dict)

    def hole(self, start: int, end: int) -> int:
        """Bytes of [start, end) that are not memory (``mem_hole_size``)."""
        sp, ep = div_round_up(start, PAGE_SIZE), end // PAGE_SIZE
        if sp >= ep:
            return 0
        present = sum(max(0, min(e, ep) - max(s, sp)) for s, e in self.memory)
        return (ep - sp - present) * PAGE_SIZE

    def ram(self, start: int, end: int) -> int:
        return end - start - self.hole(start, end)

    def first_block(self, phys: int) -> int | None:
        return next((k for k, b in enumerate(self.pi) if b[0] == phys), None)

    def cut(self, nid: int, k: int, size: int) -> None:
        """``emu_setup_memblk``: the first *size* bytes of block *k* become
        emulated node *nid*."""
        if len(self.ei) >= NR_NODE_MEMBLKS:
            self.ctx.printk("NUMA: Too many emulated memblks, failing emulation", KERN_ERR)
            raise EmulationFailed
        phys, start, _ = self.pi[k]
        self.ei.append([nid, start, start + size])
        self.emu_to_phys.setdefault(nid, phys)
        self.pi[k][1] += size
        if self.pi[k][1] >= self.pi[k][2]:
            del self.pi[k]
        self.ctx.pr_info(f"Faking node {nid} at [mem {start:#018x}-{start + size - 1:#018x}] "
                         f"({size >> 20}MB)")

    def node_end(self, start: int, limit: int, size: int, extra: int, grow: bool) -> int:
        """Where a node of *size* bytes of memory that starts at *start* ends."""
        end = start + size + extra
        if grow:
            while self.ram(start, end) < size:
                end += FAKE_NODE_MIN_SIZE
                if end > limit:
                    end = limit
                    break
        # never strand less than a minimum node below 4 GiB
        if end < DMA32_END and self.ram(end, DMA32_END) < FAKE_NODE_MIN_SIZE:
            end = DMA32_END
        return end

    def interleave(self, phys_nodes: list[int], size: int, nr: int, *, big: int = 0,
                   grow: bool = True, take_rest: bool = True, nid: int = 0) -> int:
        """Cut nodes of *size* round-robin over the physical nodes until
        every block is used; returns the next emulated nid."""
        pending = list(phys_nodes)
        while pending:
            for phys in list(pending):
                k = self.first_block(phys)
                if k is None:
                    pending.remove(phys)
                    continue
                _, start, limit = self.pi[k]
                end = self.node_end(start, limit, size,
                                    FAKE_NODE_MIN_SIZE if nid < big else 0, grow)
                # the kernel's unsigned arithmetic: past the limit, nothing remains
                rest = ((limit - end) & _U64) - self.hole(end, limit)
                if take_rest and rest < size:
                    end = limit
                self.cut(nid % nr, k, min(end, limit) - start)
                nid += 1
        return nid


def _split_count(sp: _Splitter, phys_nodes: list[int], max_addr: int, nr: int) -> None:
    """``numa=fake=N``."""
    if nr <= 0:
        raise EmulationFailed
    if nr > MAX_NUMNODES:
        sp.ctx.pr_info(f"numa=fake={nr} too large, reducing to {MAX_NUMNODES}")
        nr = MAX_NUMNODES
    size = (sp.ram(0, max_addr) // PAGE_SIZE) // nr * PAGE_SIZE
    big = (size % FAKE_NODE_MIN_SIZE) * nr // FAKE_NODE_MIN_SIZE
    size = round_down(size, FAKE_NODE_MIN_SIZE)
    if not size:
        sp.ctx.printk("Not enough memory for each node.  NUMA emulation disabled.", KERN_ERR)
        raise EmulationFailed
    sp.interleave(phys_nodes, size, nr, big=big)


def _uniform_size(sp: _Splitter, start: int, end: int, nr: int, with_holes: bool) -> int:
    """An even share of [start, end) among *nr* nodes, in whole pages."""
    span = end // PAGE_SIZE - start // PAGE_SIZE
    if with_holes:
        span -= sp.hole(start, end) // PAGE_SIZE
    return span // nr * PAGE_SIZE


def _sized(sp: _Splitter, size: int, least: int) -> int:
    """The node size used: at least *least* (and 32 MiB) in 32 MiB steps,
    with the kernel's complaint when *size* falls short."""
    least = round_up(max(least, FAKE_NODE_MIN_SIZE), FAKE_NODE_MIN_SIZE)
    if size < least:
        sp.ctx.printk(f"Fake node size {size >> 20}MB too small, increasing to "
                      f"{least >> 20}MB", KERN_ERR)
        size = least
    return round_down(size, FAKE_NODE_MIN_SIZE)


def _split_size(sp: _Splitter, phys_nodes: list[int], max_addr: int, size: int) -> None:
    """``numa=fake=<size>M|G``."""
    if not size:
        raise EmulationFailed
    size = _sized(sp, size, _uniform_size(sp, 0, max_addr, MAX_NUMNODES, with_holes=True))
    sp.interleave(phys_nodes, size, MAX_NUMNODES)


def _split_uniform(sp: _Splitter, phys_nodes: list[int], nr: int) -> None:
    """``numa=fake=NU``: *nr* nodes cut from each physical node in turn
    (each pass works on the first block left), its span split evenly."""
    nid = 0
    for phys in phys_nodes:
        if not sp.pi:
            break
        blk_phys, start, end = sp.pi[0]
        share = _uniform_size(sp, start, end, nr, with_holes=False)
        size = _sized(sp, share, share)
        after = sp.interleave([blk_phys], size, MAX_NUMNODES, grow=False, take_rest=False,
                              nid=nid)
        if after == nid:
            continue
        if after - nid < nr:
            sp.ctx.pr_info(f"numa_emulation: phys: {phys} only got {after - nid} of {nr} "
                           "nodes, failing")
            raise EmulationFailed
        nid = after


def _parse(spec: str) -> tuple[str, int, list[int]]:
    """(mode, number, distances) of the text after ``fake=``."""
    head, _, dist = spec.partition(":")
    m = re.match(r"\d+", head)
    number = int(m.group()) if m else 0
    if "U" in head:
        mode = "uniform"
    elif "M" in head or "G" in head:
        mode = "size"
        suffix = head[m.end():m.end() + 1].upper() if m else ""
        number <<= {"K": 10, "M": 20, "G": 30, "T": 40}.get(suffix, 0)
    else:
        mode = "count"
    distances = []
    for d in dist.split(","):
        if not d.isdigit():
            break
        distances.append(int(d))
    return mode, number, distances


def numa_emulation(ctx: BootContext, blocks: list[list[int]], phys_nodes: list[int],
                   spec: str) -> list[list[int]] | None:
    """Cut the physical *blocks* (``[nid, start, end]``) as ``numa=fake=spec``
    asks; returns the emulated blocks, or None when emulation gives up.
    Records ``emu_nid_to_phys`` in the architecture state and allocates the
    emulated distance table."""
    memory = [(s, e) for s, e, _ in ctx.mm.memblock.mem_pfn_ranges()]
    mb = ctx.mm.memblock
    max_addr = ctx.g.max_pfn * PAGE_SIZE
    sp = _Splitter(ctx, [list(b) for b in blocks], memory)
    mode, number, distances = _parse(spec)
    try:
        if mode == "uniform":
            _split_uniform(sp, sorted(phys_nodes), number)
        elif mode == "size":
            _split_size(sp, sorted(phys_nodes), max_addr, number)
        else:
            _split_count(sp, sorted(phys_nodes), max_addr, number)
    except EmulationFailed:
        return None
    if not sp.emu_to_phys:
        return None
    # a copy of the firmware's distances (a SLIT), kept while the table is rebuilt
    phys_distance = ctx.g.numa_distance
    copy_size = len(phys_distance) ** 2
    copy = (mb.phys_alloc_range(copy_size, PAGE_SIZE, 0, max_addr,
                                caller="numa_emulation") if copy_size else None)
    max_emu = max(sp.emu_to_phys)
    fallback = sp.emu_to_phys[min(sp.emu_to_phys)]
    emu_to_phys = {n: sp.emu_to_phys.get(n, fallback) for n in range(max_emu + 1)}
    ctx.arch_state["emu_nid_to_phys"] = emu_to_phys
    # the firmware's table goes back, the emulated one is set pair by pair:
    # numa_alloc_distance takes cnt * cnt bytes below the mapped memory
    from mmsvc_x86_64 import numa

    numa.numa_reset_distance(ctx)
    numa.numa_alloc_distance(ctx, max_emu + 1, max_addr)
    ctx.g.numa_distance = _distances(emu_to_phys, distances, phys_distance)
    if copy is not None:
        mb.free(copy, copy_size, caller="numa_emulation")
    return sp.ei


def _distances(emu_to_phys: dict[int, int], given: list[int],
               phys: tuple[tuple[int, ...], ...] = ()) -> tuple[tuple[int, ...], ...]:
    """The emulated distance table: the user's values in row order (each
    followed by another), else the physical nodes' distance (the firmware's
    table, or local/remote)."""
    n = len(emu_to_phys)
    queue = list(given)
    table = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            pi, pj = emu_to_phys[i], emu_to_phys[j]
            if len(queue) > 1:
                d = queue.pop(0)
            elif pi < len(phys) and pj < len(phys):
                d = phys[pi][pj]
            else:
                d = LOCAL_DISTANCE if pi == pj else REMOTE_DISTANCE
            table[i][j] = LOCAL_DISTANCE if i == j else d
    return tuple(tuple(row) for row in table)
