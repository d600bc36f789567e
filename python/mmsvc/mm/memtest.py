"""Early RAM test (``memtest=``, mm/memtest.c).

With ``memtest`` (every pattern) or ``memtest=N`` (the first N patterns,
counting down), the architecture calls :func:`early_memtest` once the
direct map is up (x86: at the end of ``init_mem_mapping``). Each pattern
is written to every free memblock range inside the tested window and read
back; words that do not keep it are reserved in memblock, so the kernel
never uses them. The ranges printed are memblock's free ranges at that
moment, so a real log's lines show exactly what the kernel had reserved
by then.

Which words fail comes from the machine's ``faulty_ram`` (stuck-at bits);
healthy RAM passes every pattern.
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_WARNING
from mmsvc.machine.units import kstrtouint

#: the patterns, in the kernel's order; the tests run them from the N-th
#: down to the first, which is 0 and so leaves the memory zeroed
PATTERNS = (
    0x0000000000000000, 0xFFFFFFFFFFFFFFFF, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA,
    0x1111111111111111, 0x2222222222222222, 0x4444444444444444, 0x8888888888888888,
    0x3333333333333333, 0x6666666666666666, 0x9999999999999999, 0xCCCCCCCCCCCCCCCC,
    0x7777777777777777, 0xBBBBBBBBBBBBBBBB, 0xDDDDDDDDDDDDDDDD, 0xEEEEEEEEEEEEEEEE,
    0x7A6C7258554E494C,
)
#: the test writes and reads 64-bit words
WORD = 8


def parse_memtest(ctx: BootContext) -> None:
    """The ``memtest`` early parameter (when the build has CONFIG_MEMTEST):
    bare, every pattern; ``memtest=N``, N of them; a value that is not a
    whole number is refused by name and leaves memtest off."""
    if not ctx.kconfig.memtest:
        return
    value = ctx.cmdline.get("memtest")
    if value is None:
        return
    if value == "":
        ctx.g.memtest_pattern = len(PATTERNS)
        return
    count = kstrtouint(value)
    if count is None:
        ctx.printk("Malformed early option 'memtest'", KERN_WARNING)
        return
    ctx.g.memtest_pattern = count


def early_memtest(ctx: BootContext, start: int, end: int, *, warn: bool = False) -> None:
    """Test the free memory in ``[start, end)`` with the patterns asked for;
    *warn*: warn once on bad RAM, as Debian's x86 kernels do (the warning's
    register and stack dump is not simulated)."""
    count = ctx.g.memtest_pattern
    if not count:
        return
    ctx.pr_info(f"early_memtest: # of tests: {count}")
    for i in range(count - 1, -1, -1):
        _one_pass(ctx, PATTERNS[i % len(PATTERNS)], start, end, warn)


def _be64(pattern: int) -> str:
    """The pattern as the kernel prints it: its bytes in memory order."""
    return pattern.to_bytes(8, "little").hex()


def _one_pass(ctx: BootContext, pattern: int, start: int, end: int, warn: bool) -> None:
    mb = ctx.mm.memblock
    cursor: tuple[int, int] | None = (0, 0)
    while cursor is not None:
        step = mb.next_free_range(cursor)
        if step is None:
            return
        (this_start, this_end, _), cursor = step
        this_start = min(max(this_start, start), end)
        this_end = min(max(this_end, start), end)
        if this_start >= this_end:
            continue
        ctx.pr_info(f"  {this_start:#018x} - {this_end:#018x} pattern {_be64(pattern)}")
        for bad_start, bad_end in bad_blocks(ctx, pattern, this_start, this_end):
            _reserve_bad_mem(ctx, pattern, bad_start, bad_end, warn)


def bad_blocks(ctx: BootContext, pattern: int, start: int, end: int) -> list[tuple[int, int]]:
    """The runs of words in ``[start, end)`` that do not keep *pattern*, as
    the test finds them: word-aligned from ``start``, neighbours merged, and
    a run at address 0 lost (the test uses 0 for "no bad word yet")."""
    first = -(-start // WORD) * WORD
    last = first + (end - first) // WORD * WORD
    runs: list[tuple[int, int]] = []
    for bad in sorted(ctx.machine.faulty_ram, key=lambda b: b.start):
        if not bad.fails(pattern):
            continue
        s = max(first, bad.start // WORD * WORD)
        e = min(last, -(-bad.end // WORD) * WORD)
        if s >= e:
            continue
        if runs and runs[-1][1] >= s:
            runs[-1] = (runs[-1][0], max(runs[-1][1], e))
        else:
            runs.append((s, e))
    return [(s, e) for s, e in runs if s != 0]


def _reserve_bad_mem(ctx: BootContext, pattern: int, start: int, end: int,
                     warn: bool) -> None:
    if warn and not ctx.results.get("memtest_warned"):
        ctx.results["memtest_warned"] = True
        ctx.printk("Bad RAM detected. Use memtest86+ to perform a thorough test", KERN_WARNING)
        ctx.printk("and the memmap= parameter to reserve the bad areas.", KERN_WARNING)
    ctx.pr_info(f"  {_be64(pattern)} bad mem addr {start:#018x} - {end:#018x} reserved")
    ctx.mm.memblock.reserve(start, end - start, caller="early_memtest")
