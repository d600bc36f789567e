"""The kernel log buffer (``setup_log_buf`` in kernel/printk/printk.c).

Until ``setup_log_buf`` runs, printk writes into a static ring buffer in the
image of ``2^CONFIG_LOG_BUF_SHIFT`` bytes. A bigger one is taken from
memblock when ``log_buf_len=`` asks for it (on x86 already during
setup_arch) or, on SMP kernels, when the possible CPUs' contributions
(``2^CONFIG_LOG_CPU_MAX_BUF_SHIFT`` bytes each beyond the first) exceed half
the static size: the text buffer rounded up to a power of two, then one
descriptor and one record-info per 32 bytes of text. The records printed so
far are copied over; the kernel reports how much of the static buffer they
left free (here: the simulated log's records).
"""

from __future__ import annotations

from mmsvc.boot.context import BootContext
from mmsvc.klog import KERN_ERR
from mmsvc.units import roundup_pow_of_two

#: one descriptor per 2^PRB_AVGBITS bytes of text
PRB_AVGBITS = 5
#: sizeof(struct prb_desc), sizeof(struct printk_info) (x86_64 BTF, 5.10 on)
PRB_DESC_SIZE = 24
PRINTK_INFO_SIZE = 88
#: LOG_ALIGN: __alignof__(unsigned long)
LOG_ALIGN = 8
#: LOG_BUF_LEN_MAX
LOG_BUF_LEN_MAX = 1 << 31


def _state(ctx: BootContext) -> dict:
    """``log_buf_len`` in force and ``new_log_buf_len`` asked for."""
    st = ctx.results.setdefault("log_buf", {})
    if not st:
        static = 1 << ctx.kconfig.log_buf_shift
        st.update(static_len=static, len=static, new_len=0, dynamic=False)
        _log_buf_len_update(ctx, st, ctx.cmdline.log_buf_len or 0)
    return st


def _log_buf_len_update(ctx: BootContext, st: dict, size: int) -> None:
    if size > LOG_BUF_LEN_MAX:
        size = LOG_BUF_LEN_MAX
        ctx.printk("log_buf over 2G is not supported.", KERN_ERR)
    if size:
        size = roundup_pow_of_two(size)
    if size > st["len"]:
        st["new_len"] = size


def _log_buf_add_cpu(ctx: BootContext, st: dict, possible_cpus: int) -> None:
    if possible_cpus <= 1:
        return
    per_cpu = 1 << ctx.kconfig.log_cpu_max_buf_shift
    cpu_extra = (possible_cpus - 1) * per_cpu
    if cpu_extra <= st["static_len"] // 2:
        return
    ctx.pr_info(f"printk: log_buf_len individual max cpu contribution: {per_cpu} bytes")
    ctx.pr_info(f"printk: log_buf_len total cpu_extra contributions: {cpu_extra} bytes")
    ctx.pr_info(f"printk: log_buf_len min size: {st['static_len']} bytes")
    _log_buf_len_update(ctx, st, cpu_extra + st["static_len"])


def setup_log_buf(ctx: BootContext, early: bool) -> None:
    """``setup_log_buf(early)``: the early call (x86's setup_arch) only acts
    on ``log_buf_len=``; the late one (start_kernel, after the percpu areas)
    adds the possible CPUs' share first."""
    st = _state(ctx)
    if st["dynamic"]:
        return
    if not early and not st["new_len"] and ctx.kconfig.smp:
        _log_buf_add_cpu(ctx, st, ctx.g.nr_cpu_ids)
    new_len = st["new_len"]
    if not new_len:
        return
    descs = new_len >> PRB_AVGBITS
    if descs == 0:
        ctx.printk(f"printk: new_log_buf_len: {new_len} too small", KERN_ERR)
        return
    mb = ctx.mm.memblock
    # the text, the descriptors, the record infos: each from memblock, the
    # ones already taken given back if a later one fails
    taken: list[tuple[int, int]] = []
    for size, what in ((new_len, "text"), (descs * PRB_DESC_SIZE, "desc"),
                       (descs * PRINTK_INFO_SIZE, "info")):
        try:
            addr = mb.alloc(size, LOG_ALIGN, caller="setup_log_buf")
        except MemoryError:
            ctx.printk(f"printk: log_buf_len: {size} {what} bytes not available", KERN_ERR)
            for a, s in reversed(taken):
                mb.free(a, s)
            return
        taken.append((addr, size))
    free = st["static_len"]
    for rec in ctx.log.records:
        n = len(rec.text.encode())
        free = 0 if n > free else free - n
    st.update(len=new_len, new_len=0, dynamic=True, allocations=taken)
    ctx.pr_info(f"printk: log_buf_len: {new_len} bytes")
    ctx.pr_info(f"printk: early log buf free: {free}({free * 100 // st['static_len']}%)")
