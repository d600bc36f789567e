"""The first per-cpu chunk (mm/percpu.c).

``pcpu_embed_first_chunk`` sizes one unit per possible CPU from the kernel
image's static per-cpu section plus the module-reserved and dynamic areas,
allocates each node's units in one memblock block, keeps the used head of
every unit and gives the tail back to memblock. Then the allocator's own
metadata (unit maps, the first chunks' bitmaps) comes from memblock too.

``pcpu_page_first_chunk`` (``percpu_alloc=page``) takes each unit page by
page from memblock instead and maps the units at the start of the vmalloc
space, in an area registered before vmalloc exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_DEBUG, KERN_WARNING
from mmsvc.units import PAGE_SIZE, SMP_CACHE_BYTES, div_round_up, page_align, round_up

#: PERCPU_MODULE_RESERVE
PERCPU_MODULE_RESERVE = 8 << 10
#: PERCPU_DYNAMIC_RESERVE (64-bit)
PERCPU_DYNAMIC_RESERVE = 28 << 10
#: PERCPU_DYNAMIC_EARLY_SIZE: the least dynamic room a first chunk gets
PERCPU_DYNAMIC_EARLY_SIZE = 12 << 10
#: PCPU_MIN_UNIT_SIZE
PCPU_MIN_UNIT_SIZE = 32 << 10
#: bytes per allocation-map bit (1 << PCPU_MIN_ALLOC_SHIFT)
PCPU_MIN_ALLOC_SIZE = 4
#: sizeof(struct pcpu_block_md), sizeof(struct pcpu_chunk) (x86_64 with
#: MEMCG_KMEM, the Debian builds' BTF), sizeof(struct list_head)
PCPU_BLOCK_MD_SIZE = 32
PCPU_CHUNK_SIZE = 136
LIST_HEAD_SIZE = 16
#: fls() offset of the chunk slots (PCPU_SLOT_BASE_SHIFT)
PCPU_SLOT_BASE_SHIFT = 5


@dataclass(frozen=True)
class FirstChunk:
    """What ``percpu: Embedded N pages/cpu s.. r.. d.. u..`` reports."""

    static_size: int
    reserved_size: int
    dyn_size: int
    unit_size: int
    atom_size: int
    #: units per allocation: each group's units are a multiple of it
    upa: int = 1

    @property
    def size_sum(self) -> int:
        return self.static_size + self.reserved_size + self.dyn_size

    @property
    def pages_per_cpu(self) -> int:
        return self.size_sum // PAGE_SIZE

    def banner(self) -> str:
        return (f"percpu: Embedded {self.pages_per_cpu} pages/cpu s{self.static_size} "
                f"r{self.reserved_size} d{self.dyn_size} u{self.unit_size}")


def build_alloc_info(static_size: int, atom_size: int,
                     reserved_size: int = PERCPU_MODULE_RESERVE,
                     dyn_size: int = PERCPU_DYNAMIC_RESERVE,
                     group_cpus: tuple[int, ...] = (1,)) -> FirstChunk:
    """``pcpu_build_alloc_info``: the unit layout of the first chunk for
    groups of *group_cpus* CPUs (one group per node). An atom holds as many
    page-aligned units as divide it; the most per atom is taken that wastes
    at most a third of the possible CPUs in unused units without needing
    more atoms."""
    size_sum = page_align(static_size + reserved_size + max(dyn_size, PERCPU_DYNAMIC_EARLY_SIZE))
    dyn = size_sum - static_size - reserved_size
    min_unit = max(size_sum, PCPU_MIN_UNIT_SIZE)
    alloc_size = round_up(min_unit, atom_size)

    def fits(upa: int) -> bool:
        return alloc_size % upa == 0 and (alloc_size // upa) % PAGE_SIZE == 0

    max_upa = alloc_size // min_unit
    while not fits(max_upa):
        max_upa -= 1
    best, last_allocs = 0, None
    for upa in range(max_upa, 0, -1):
        if not fits(upa):
            continue
        allocs = sum(div_round_up(c, upa) for c in group_cpus)
        wasted = sum(div_round_up(c, upa) * upa - c for c in group_cpus)
        if wasted > sum(group_cpus) // 3:
            continue
        if last_allocs is not None and allocs > last_allocs:
            break
        last_allocs, best = allocs, upa
    return FirstChunk(static_size, reserved_size, dyn, alloc_size // best, atom_size, best)


def pcpu_embed_first_chunk(ctx: BootContext, static_size: int, atom_size: int,
                           cpus_per_node: dict[int, int], goal: int,
                           cpu_nodes: list[int] | None = None) -> FirstChunk:
    """Allocate the first chunk's units from memblock, node-local, and print the banner.

    Each node with CPUs is a group of its own (x86's ``pcpu_cpu_distance``
    puts CPUs of different nodes apart whatever the distance table says,
    emulated nodes included)."""
    mb = ctx.mm.memblock
    groups = {nid: cpus for nid, cpus in sorted(cpus_per_node.items()) if cpus}
    fc = build_alloc_info(static_size, atom_size, group_cpus=tuple(groups.values()))
    # each group's units: its CPUs', rounded up to whole allocations
    group_units = {nid: round_up(cpus, fc.upa) for nid, cpus in groups.items()}
    nr_units = sum(group_units.values())
    # the alloc-info block is a whole page, freed once the chunk is set up
    ai_size = page_align(64 + 32 * len(groups) + 4 * nr_units)
    ai = mb.alloc(ai_size, PAGE_SIZE, caller="pcpu_alloc_alloc_info")
    # the group base addresses, a page of pointers, freed at the end too
    areas_size = page_align(8 * len(groups))
    areas = mb.alloc(areas_size, SMP_CACHE_BYTES, caller="pcpu_embed_first_chunk")
    units: list[tuple[int, int]] = []
    bases = {nid: mb.alloc_try_nid(group_units[nid] * fc.unit_size, atom_size, goal, 0, nid,
                                   caller="pcpu_fc_alloc")
             for nid in groups}
    for nid, cpus in groups.items():
        for i in range(group_units[nid]):
            unit = bases[nid] + i * fc.unit_size
            if i >= cpus:  # a unit no CPU uses goes back whole
                mb.free(unit, fc.unit_size, caller="pcpu_fc_free")
                continue
            units.append((nid, unit))
            if fc.unit_size > fc.size_sum:
                mb.free(unit + fc.size_sum, fc.unit_size - fc.size_sum, caller="pcpu_fc_free")
    ctx.pr_info(fc.banner())
    # each group's CPUs (by *cpu_nodes*, the node of each CPU in order; else
    # numbered group after group), then its unused units
    if cpu_nodes is None:
        cpu_nodes = [nid for nid, cpus in groups.items() for _ in range(cpus)]
    cpu_maps: list[list[int | None]] = [
        [cpu for cpu, n in enumerate(cpu_nodes) if n == nid] for nid in groups]
    for cpu_map, nid in zip(cpu_maps, groups, strict=True):
        cpu_map.extend([None] * (group_units[nid] - len(cpu_map)))
    pcpu_setup_first_chunk(ctx, fc, nr_units, len(groups), cpu_maps)
    mb.free(ai, ai_size, caller="pcpu_free_alloc_info")
    mb.free(areas, areas_size, caller="pcpu_embed_first_chunk")
    ctx.results["percpu"] = {
        "pages_per_cpu": fc.pages_per_cpu, "static": fc.static_size,
        "reserved": fc.reserved_size, "dynamic": fc.dyn_size, "unit": fc.unit_size,
        "units": [u for _, u in units],
    }
    return fc


def pcpu_dump_alloc_info(fc: FirstChunk, cpu_maps: list[list[int | None]]) -> list[str]:
    """The ``pcpu-alloc:`` lines: the sizes, then each allocation's group
    and the CPU of each of its units (dashes for an unused one), as many
    allocations a line as fit 60 columns (a power of two)."""
    nr_possible = sum(1 for units in cpu_maps for cpu in units if cpu is not None)
    group_width = len(str(max(len(cpu_maps), 1)))
    cpu_width = len(str(max(nr_possible, 1)))
    empty = "-" * min(cpu_width, 8)
    upa = fc.upa
    width = upa * (cpu_width + 1) + group_width + 3
    apl = 1 << (max(60 // width, 1).bit_length() - 1)
    alloc_size = fc.unit_size * upa
    lines = [f"pcpu-alloc: s{fc.static_size} r{fc.reserved_size} d{fc.dyn_size} "
             f"u{fc.unit_size} alloc={alloc_size // fc.atom_size}*{fc.atom_size}"]
    alloc = 0
    for group, units in enumerate(cpu_maps):
        for start in range(0, len(units), upa):
            if alloc % apl == 0:
                lines.append("pcpu-alloc: ")
            lines[-1] += f"[{group:0{group_width}d}] " + "".join(
                f"{cpu:0{cpu_width}d} " if cpu is not None else f"{empty} "
                for cpu in units[start:start + upa])
            alloc += 1
    return lines


def percpu_alloc_setup(ctx: BootContext) -> str:
    """``percpu_alloc=`` (an SMP build's early parameter), each one given in
    turn: ``embed`` or ``page`` chooses the first-chunk allocator, another
    word is warned about and changes nothing. Returns the choice, ``auto``
    when none was made."""
    chosen = "auto"
    for name, value in ctx.cmdline.params:
        if name.replace("-", "_") != "percpu_alloc":
            continue
        if value is None:
            ctx.printk("Malformed early option 'percpu_alloc'", KERN_WARNING)
        elif value in ("embed", "page"):
            chosen = value
        else:
            ctx.printk(f"percpu: unknown allocator {value} specified", KERN_WARNING)
    return chosen


def pcpu_page_first_chunk(ctx: BootContext, static_size: int, cpu_nodes: list[int],
                          vm_start: int, goal: int, populate_pte) -> FirstChunk:
    """``percpu_alloc=page``: one group of every possible CPU, units of whole
    pages (the dynamic area only as big as early boot needs), each page its
    CPU's node-local memblock page. The units are mapped one after another
    at *vm_start* (the vmalloc space's start, ``vm_area_register_early``):
    *populate_pte(virts, pfns)* maps them, taking any missing page table
    from memblock. The area joins the vmalloc space at vmalloc_init
    (``ctx.results["vm_early"]``)."""
    mb = ctx.mm.memblock
    nr = len(cpu_nodes)
    fc = build_alloc_info(static_size, PAGE_SIZE, dyn_size=0, group_cpus=(nr,))
    unit_pages = fc.unit_size // PAGE_SIZE
    ai_size = page_align(64 + 32 + 4 * nr)
    ai = mb.alloc(ai_size, PAGE_SIZE, caller="pcpu_alloc_alloc_info")
    pages_size = page_align(unit_pages * nr * 8)
    pages_array = mb.alloc(pages_size, SMP_CACHE_BYTES, caller="pcpu_page_first_chunk")
    online = set(ctx.g.node_online_map) if ctx.kconfig.numa else set()
    pfns = []
    for nid in cpu_nodes:
        for _ in range(unit_pages):
            if nid in online:
                page = mb.alloc_try_nid(PAGE_SIZE, PAGE_SIZE, goal, 0, nid, caller="pcpu_fc_alloc")
            else:
                page = mb.alloc_try_nid(PAGE_SIZE, PAGE_SIZE, goal, 0, -1, caller="pcpu_fc_alloc")
            pfns.append(page // PAGE_SIZE)
    size = nr * fc.unit_size
    populate_pte([vm_start + i * PAGE_SIZE for i in range(len(pfns))], pfns)
    ctx.pr_info(f"percpu: {unit_pages} {PAGE_SIZE >> 10}K pages/cpu s{fc.static_size} "
                f"r{fc.reserved_size} d{fc.dyn_size}")
    pcpu_setup_first_chunk(ctx, fc, nr, 1, [list(range(nr))])
    mb.free(pages_array, pages_size, caller="pcpu_page_first_chunk")
    mb.free(ai, ai_size, caller="pcpu_free_alloc_info")
    ctx.results.setdefault("vm_early", []).append((vm_start, size))
    ctx.results["percpu"] = {
        "pages_per_cpu": unit_pages, "static": fc.static_size,
        "reserved": fc.reserved_size, "dynamic": fc.dyn_size, "unit": fc.unit_size,
        # each unit's address: in the vmalloc space, not the direct map
        "unit_vaddrs": [vm_start + i * fc.unit_size for i in range(nr)],
        "pfns": pfns,
    }
    return fc


def pcpu_setup_first_chunk(ctx: BootContext, fc: FirstChunk, nr_units: int,
                           nr_groups: int,
                           cpu_maps: list[list[int | None]] | None = None) -> None:
    """``pcpu_setup_first_chunk``: unit maps, slot lists and the two first
    chunks. *cpu_maps*: each group's units, the CPU of each (None: unused),
    for the ``pcpu-alloc:`` debug dump; by default the CPUs fill the groups'
    units in order."""
    mb = ctx.mm.memblock
    nr_cpu_ids = max(nr_units, 1)
    for size in (8 * nr_groups, 8 * nr_groups, 4 * nr_cpu_ids, 8 * nr_cpu_ids):
        mb.alloc(size, SMP_CACHE_BYTES, caller="pcpu_setup_first_chunk")
    if cpu_maps is None:
        per = max(nr_units // max(nr_groups, 1), 1)
        cpu_maps = [list(range(g * per, (g + 1) * per)) for g in range(nr_groups)]
    for line in pcpu_dump_alloc_info(fc, cpu_maps):
        ctx.printk(line, KERN_DEBUG)
    # chunk slot lists: 6.1 has the sidelined, free and to-depopulate slots
    # after the size slots; 5.14 two extra slots, twice (memcg chunk types)
    size_slot = max(fc.unit_size.bit_length() - PCPU_SLOT_BASE_SHIFT + 2, 1)
    if ctx.profile_at_least("6.1"):
        lists = (size_slot + 4) * LIST_HEAD_SIZE
    else:
        lists = (size_slot + 2) * LIST_HEAD_SIZE * 2
    mb.alloc(lists, SMP_CACHE_BYTES, caller="pcpu_setup_first_chunk")
    # the reserved chunk maps static+reserved; the dynamic chunk maps dyn
    for start, size in ((fc.static_size, fc.reserved_size),
                        (fc.static_size + fc.reserved_size, fc.dyn_size)):
        if size == 0:
            continue
        region = page_align(start % PAGE_SIZE + size)
        pages = region // PAGE_SIZE
        bits = region // PCPU_MIN_ALLOC_SIZE
        mb.alloc(PCPU_CHUNK_SIZE + 8 * div_round_up(pages, 64), SMP_CACHE_BYTES,
                 caller="pcpu_alloc_first_chunk")
        mb.alloc(8 * div_round_up(bits, 64), SMP_CACHE_BYTES, caller="pcpu_alloc_first_chunk")
        mb.alloc(8 * div_round_up(bits + 1, 64), SMP_CACHE_BYTES,
                 caller="pcpu_alloc_first_chunk")
        mb.alloc(PCPU_BLOCK_MD_SIZE * pages, SMP_CACHE_BYTES, caller="pcpu_alloc_first_chunk")
