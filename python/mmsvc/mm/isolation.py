"""CPU isolation on the command line (kernel/sched/isolation.c): ``nohz_full=``
and ``isolcpus=``, with CONFIG_CPU_ISOLATION.

Their ``__setup`` handlers run while start_kernel parses the command line.
A handler that gives up (a CPU list it cannot read, nothing left to
isolate once the boot CPU is kept for housekeeping, ``nohz_full=`` without
CONFIG_NO_HZ_FULL, an ``isolcpus=`` flag it cannot read, a second option
whose CPUs differ from the first's) returns 0, so the kernel reports the
parameter as unknown. One that succeeds keeps a cpumask per housekeeping
type it sets up, and ``nohz_full=`` one more for the full-dynticks CPUs:
with CPUMASK_OFFSTACK each comes from memblock; the two masks it works
with are taken and given back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_WARNING
from mmsvc.machine.units import cpulist_parse
from mmsvc.units import SMP_CACHE_BYTES

#: housekeeping types (enum hk_type)
HK_TIMER, HK_RCU, HK_MISC, HK_SCHED, HK_TICK, HK_DOMAIN, HK_WQ, HK_MANAGED_IRQ, HK_KTHREAD = (
    range(9))
NOHZ_FULL_TYPES = frozenset({HK_TICK, HK_WQ, HK_TIMER, HK_RCU, HK_MISC, HK_KTHREAD})
#: isolcpus= flags: "nohz," "domain," "managed_irq,"
ISOLCPUS_FLAGS = {"nohz,": HK_TICK, "domain,": HK_DOMAIN, "managed_irq,": HK_MANAGED_IRQ}


@dataclass
class Housekeeping:
    """What the handlers set up so far (``housekeeping``)."""

    types: set[int] = field(default_factory=set)
    cpumasks: dict[int, frozenset[int]] = field(default_factory=dict)
    allocations: list[tuple[int, int]] = field(default_factory=list)


def parse_args(ctx: BootContext) -> set[int]:
    """Run the handlers of the command line's ``nohz_full=``/``isolcpus=``
    in order; the indices (of ``ctx.cmdline.params``) of those that gave up."""
    rejected: set[int] = set()
    if not ctx.kconfig.cpu_isolation:
        return rejected
    state = ctx.results.setdefault("housekeeping", Housekeeping())
    for i, (name, value) in enumerate(ctx.cmdline.params):
        name = name.replace("-", "_")
        if name == "nohz_full" and value is not None:
            ok = housekeeping_setup(ctx, state, value, NOHZ_FULL_TYPES)
        elif name == "isolcpus" and value is not None:
            ok = _isolcpus(ctx, state, value)
        else:
            continue
        if not ok:
            rejected.add(i)
    return rejected


def _isolcpus(ctx: BootContext, state: Housekeeping, value: str) -> bool:
    types: set[int] = set()
    s = value
    while s[:1].isalpha():
        for flag, hk in ISOLCPUS_FLAGS.items():
            if s.startswith(flag):
                types.add(hk)
                s = s[len(flag):]
                break
        else:
            word, _, rest = s.partition(",")
            if any(not (c.isalpha() or c == "_") for c in word):
                ctx.printk(f"isolcpus: Invalid flag {word}", KERN_WARNING)
                return False
            ctx.pr_info(f"isolcpus: Skipped unknown flag {word}")
            s = rest
    return housekeeping_setup(ctx, state, s, types or {HK_DOMAIN})


def _cpumask_size(ctx: BootContext) -> int:
    """``cpumask_size()``: longs enough for nr_cpumask_bits (nr_cpu_ids off-stack)."""
    bits = ctx.g.nr_cpu_ids if ctx.kconfig.cpumask_offstack else ctx.kconfig.nr_cpus
    return -(-bits // 64) * 8


def _alloc_mask(ctx: BootContext, state: Housekeeping | None = None) -> tuple[int, int] | None:
    """alloc_bootmem_cpumask_var: memblock with CPUMASK_OFFSTACK, else nothing."""
    if not ctx.kconfig.cpumask_offstack:
        return None
    size = _cpumask_size(ctx)
    addr = ctx.mm.memblock.alloc(size, SMP_CACHE_BYTES, caller="alloc_bootmem_cpumask_var")
    if state is not None:
        state.allocations.append((addr, size))
    return addr, size


def _free_mask(ctx: BootContext, mask: tuple[int, int] | None) -> None:
    if mask is not None:
        ctx.mm.memblock.free(*mask, caller="free_bootmem_cpumask_var")


def housekeeping_setup(ctx: BootContext, state: Housekeeping, value: str,
                       types: frozenset[int] | set[int]) -> bool:
    if HK_TICK in types and HK_TICK not in state.types and not ctx.kconfig.no_hz_full:
        ctx.printk("Housekeeping: nohz unsupported. Build with CONFIG_NO_HZ_FULL",
                   KERN_WARNING)
        return False
    nbits = ctx.g.nr_cpu_ids if ctx.kconfig.cpumask_offstack else ctx.kconfig.nr_cpus
    non_housekeeping_mask = _alloc_mask(ctx)
    isolated = cpulist_parse(value, nbits)
    if isolated is None:
        ctx.printk("Housekeeping: nohz_full= or isolcpus= incorrect CPU range", KERN_WARNING)
        _free_mask(ctx, non_housekeeping_mask)
        return False
    staging_mask = _alloc_mask(ctx)
    possible = set(range(ctx.g.nr_cpu_ids))
    present = set(range(min(ctx.machine.present_cpus or ctx.machine.cpus, ctx.g.nr_cpu_ids)))
    staging = possible - isolated
    max_cpus = ctx.cmdline.setup_max_cpus(ctx.kconfig.nr_cpus)
    first = min(present & staging, default=None)
    if first is None or first >= max_cpus:
        staging.add(0)
        isolated = isolated - {0}
        if not state.types:
            ctx.printk("Housekeeping: must include one present CPU, using boot CPU:0",
                       KERN_WARNING)
    ok = bool(isolated)
    if ok and state.types:
        for t in types & state.types:
            if frozenset(staging) != state.cpumasks[t]:
                ctx.printk("Housekeeping: nohz_full= must match isolcpus=", KERN_WARNING)
                ok = False
                break
    if ok:
        for t in sorted(set(types) - state.types):
            _alloc_mask(ctx, state)
            state.cpumasks[t] = frozenset(staging)
        if HK_TICK in types and HK_TICK not in state.types:
            _alloc_mask(ctx, state)  # tick_nohz_full_mask
        state.types |= set(types)
    _free_mask(ctx, staging_mask)
    _free_mask(ctx, non_housekeeping_mask)
    return ok
