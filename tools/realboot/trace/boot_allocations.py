#!/usr/bin/env python3
"""Turn a trace of the real kernel's page allocations (trace.py) into the
catalogue's table of a build's boot allocations
(python/mmsvc/machine/boot_allocations/RELEASE.toml).

    tools/realboot/trace/boot_allocations.py TRACE.jsonl[.gz] RELEASE \
        [TWO_CPU_TRACE [TWO_NODE_TRACE]] > TABLE.toml

The table lists, kernel function by kernel function, the page allocations
the kernel makes between kmem_cache_init and the BPF JIT's first pack's
pages that the simulation does not make by its own rules: the slab pages of
every cache, kthread stacks, trace buffers and the like. Each function is
tied to the simulation step it runs next to (ANCHORS); allocations the
simulation makes itself (MODELLED) are left out. A slab row carries its
cache's object size from the traced boot's /proc/slabinfo (TRACE.slabinfo
beside the trace). With a trace of the same
machine on two CPUs, the rows its bring-up functions (PER_CPU) add come out
as per-CPU calls, made once for every CPU after the first; with a trace of
a machine whose second CPU has a node of its own, what a node's first CPU
adds (workqueue's unbound pool there) comes out as a per-node call. A task's memory
policy decides the node: the boot task (pid 0 until rest_init resets it,
pid 1 until the end of kernel_init_freeable) interleaves, kthreadd and the
kthreads it makes allocate locally; what a bring-up places on the new CPU's
node (its idle task's and per-CPU kthreads' task structs and stacks, its
ring buffers, what runs on it) is "cpu".
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections import OrderedDict

#: kernel function (the trace's phase) -> (before|after, simulation step)
ANCHORS = {
    "kmem_cache_init": ("after", "kmem_cache_init"),
    "vmalloc_init": ("after", "vmalloc_init"),
    "poking_init": ("before", "poking_init"),
    "early_trace_init": ("after", "ftrace_init"),
    "sched_init": ("after", "ftrace_init"),
    "workqueue_init_early": ("after", "ftrace_init"),
    "trace_init": ("after", "ftrace_init"),
    "early_irq_init": ("after", "ftrace_init"),
    "init_IRQ": ("before", "init_IRQ"),
    "kmem_cache_init_late": ("before", "setup_per_cpu_pageset"),
    "numa_policy_init": ("after", "numa_policy_init"),
    "acpi_early_init": ("after", "numa_policy_init"),
    "arch_cpu_finalize_init": ("after", "arch_cpu_finalize_init"),
    "anon_vma_init": ("before", "vfs_caches_init"),
    "security_init": ("before", "vfs_caches_init"),
    "net_ns_init": ("before", "vfs_caches_init"),
    "vfs_caches_init": ("after", "vfs_caches_init"),
    "pagecache_init": ("after", "vfs_caches_init"),
    "proc_root_init": ("after", "vfs_caches_init"),
    "nsfs_init": ("after", "vfs_caches_init"),
    "cgroup_init": ("after", "vfs_caches_init"),
    "rest_init": ("after", "vfs_caches_init"),
    "workqueue_init": ("before", "smp_init"),
    "init_mm_internals": ("before", "smp_init"),
    "rcu_init_tasks_generic": ("before", "smp_init"),
    "spawn_ksoftirqd": ("before", "smp_init"),
    "rcu_spawn_gp_kthread": ("before", "smp_init"),
    "cpu_stop_init": ("before", "smp_init"),
    "init_kprobes": ("before", "smp_init"),
    "dynamic_debug_init": ("before", "smp_init"),
    "lockup_detector_init": ("before", "smp_init"),
    "idle_threads_init": ("before", "smp_init"),
    "bringup_nonboot_cpus": ("before", "smp_init"),
    "sched_init_smp": ("after", "smp_init"),
    "page_alloc_init_late": ("before", "page_alloc_init_late"),
    "driver_init": ("after", "driver_init"),
    "init_irq_proc": ("after", "driver_init"),
    "inet_frag_wq_init": ("after", "driver_init"),
    "wq_sysfs_init": ("after", "driver_init"),
    "pm_init": ("after", "driver_init"),
    "swsusp_header_init": ("after", "driver_init"),
    "cgroup_wq_init": ("after", "futex_init"),
    "gpiolib_dev_init": ("after", "futex_init"),
    "regulator_init": ("after", "futex_init"),
    "opp_debug_init": ("after", "futex_init"),
    "sock_init": ("before", "sock_init"),
}

#: what the simulation allocates itself: (function or "*", what)
MODELLED = {
    ("kmem_cache_init", "slab kmem_cache"), ("kmem_cache_init", "slab kmem_cache_node"),
    ("poking_init", "page table"), ("ftrace_init", "*"), ("init_espfix_bsp", "*"),
    ("init_IRQ", "split_large_page"), ("vfs_caches_init", "alloc_large_system_hash"),
    ("futex_init", "*"),
}

_STACK_KTHREAD = re.compile(r"kthreadd")


def _strip(frames: list[str]) -> list[str]:
    return [f[2:] if f.startswith("i:") else f for f in frames]


def what(rec: dict, cache: str | None) -> str:
    """What a traced allocation is, in a few words."""
    fr = _strip(rec["frames"])
    if "module_alloc" in fr:
        return "module_alloc"
    if cache or "allocate_slab" in fr:
        return f"slab {cache or '?'}"
    if "alloc_thread_stack_node" in fr:
        return "thread stack"
    if "split_large_page" in fr:
        return "split_large_page"
    if any(re.match(r"(__)?(p4d|pud|pmd|pte|pgd)_alloc|_pgd_alloc|__pte_alloc", f) for f in fr):
        return "page table"
    if "__vmalloc_node_range" in fr:
        return "vmalloc"
    for f in fr:
        if not re.match(r"(__)?(alloc_pages|get_free_pages|get_zeroed_page|alloc_pages_\w+|"
                        r"__alloc_pages\w*|kmalloc\w*|__kmalloc\w*|kvmalloc\w*|kzalloc\w*|"
                        r"alloc_pages_exact\w*|alloc_page_interleave)$", f):
            return f
    return "page"


def load(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        events = [json.loads(line) for line in fh]
    final = next((e["pages"] for e in events if e.get("ev") == "final_pages"), {})
    out, started, phase = [], False, "early"
    for e in events:
        kind = e.get("ev")
        if kind == "phase":
            if e["comm"] in ("swapper", "swapper/0"):
                phase = e["name"]
            started = started or e["name"] == "kmem_cache_init"
            continue
        if kind not in ("alloc", "bulk") or not started:
            continue
        if "module_alloc" in _strip(e["frames"]):
            break  # the pack's own pages: the simulation makes those
        pfns = [e["pfn"]] if kind == "alloc" else e["pfns"]
        if not pfns or pfns[0] is None:
            continue
        cache = e.get("cache") or final.get(str(pfns[0]), {}).get("slab")
        fn = phase.split(":", 1)[1] if phase.startswith("initcall:") else phase
        out.append({"function": fn, "order": e["order"], "gfp": e["gfp"], "count": len(pfns),
                    "what": what(e, cache), "comm": e["comm"], "pid": e["pid"],
                    "by_rule": any(c in _strip(e["frames"]) for c in MODELLED_CALLERS),
                    "for_cpu": fn in PER_CPU and for_new_cpu(fn, e)})
    return out


def for_new_cpu(fn: str, e: dict) -> bool:
    """Whether the kernel puts a bring-up allocation on the new CPU's node:
    the idle task's task struct and stack (fork_idle passes the CPU's node),
    the per-CPU kthreads' (kthreadd forks them on the node they were created
    for), the CPU's trace ring buffers, and what runs on the new CPU."""
    fr = _strip(e["frames"])
    if e.get("cpu", 0) != 0 or "rb_allocate_cpu_buffer" in fr:
        return True
    if "dup_task_struct" in fr or "alloc_task_struct_node" in fr:
        return "fork_idle" in fr or (fn == "bringup_nonboot_cpus" and e["comm"] == "kthreadd")
    return False


def policy(rec: dict, kthreadd_born: bool) -> str:
    """The boot task (pid 0 until rest_init makes kthreadd, pid 1) interleaves;
    a bring-up allocation the kernel puts on the new CPU's node is "cpu"."""
    if rec["for_cpu"]:
        return "cpu"
    if rec["pid"] == 1 or (rec["pid"] == 0 and not kthreadd_born):
        return "interleave"
    return "local"


#: call chains of allocations the simulation makes by rule: the memory
#: blocks' sysfs devices (mmsvc.mm.memory_blocks)
MODELLED_CALLERS = ("add_memory_block", "register_memory_blocks_under_node")


#: where another CPU's bring-up allocates: its idle task, then (inside
#: smp_init) its per-CPU kthreads and trace ring buffers
PER_CPU = ("idle_threads_init", "bringup_nonboot_cpus")
_KEY = ("order", "gfp", "policy", "what")


def _append(rows: list[dict], row: dict) -> None:
    last = rows[-1] if rows else None
    if last and all(last[k] == row[k] for k in _KEY):
        last["count"] += row["count"]
    else:
        rows.append(dict(row))


def table(records: list[dict], *, strict: bool = True) -> OrderedDict:
    """Kernel function -> its anchor and allocation rows, in trace order;
    *strict*: every function needs an anchor."""
    calls: OrderedDict = OrderedDict()
    kthreadd_born = False
    for rec in records:
        fn, w = rec["function"], rec["what"]
        if (fn, w) in MODELLED or (fn, "*") in MODELLED or rec["by_rule"]:
            continue
        if fn not in ANCHORS and strict:
            raise SystemExit(f"no anchor for {fn!r}: add it to ANCHORS")
        pol = policy(rec, kthreadd_born)
        if rec["pid"] == 0 and fn == "rest_init" and w == "thread stack" and \
                any(r["what"] == "thread stack" for r in calls.get(fn, {}).get("rows", [])):
            # rest_init's second thread is kthreadd, made after numa_default_policy
            kthreadd_born, pol = True, "local"
        call = calls.setdefault(fn, {"anchor": ANCHORS.get(fn), "rows": []})
        _append(call["rows"], {"order": rec["order"], "gfp": rec["gfp"], "count": rec["count"],
                               "policy": pol, "what": w})
    return calls


def per_cpu(one: OrderedDict, two: OrderedDict) -> OrderedDict:
    """What a second CPU adds: the bring-up functions' rows of the two-CPU
    trace less those the one-CPU trace has (multiset difference, in the
    two-CPU trace's order)."""
    out: OrderedDict = OrderedDict()
    for fn in PER_CPU:
        have: dict[tuple, int] = {}
        for r in one.get(fn, {}).get("rows", []):
            k = tuple(r[x] for x in _KEY)
            have[k] = have.get(k, 0) + r["count"]
        rows: list[dict] = []
        for r in two.get(fn, {}).get("rows", []):
            k = tuple(r[x] for x in _KEY)
            take = min(have.get(k, 0), r["count"])
            have[k] = have.get(k, 0) - take
            if r["count"] > take:
                _append(rows, {**r, "count": r["count"] - take})
        if rows:
            out[fn] = {"anchor": ANCHORS[fn], "rows": rows}
    return out


def slab_sizes(trace_path: str) -> dict[str, int]:
    """Each cache's object slot size (``s->size``, slabinfo's objsize) from
    the /proc/slabinfo of the traced boot, kept beside its trace as
    ``NAME.slabinfo``: the simulation sizes the slabs of these rows for its
    own machine's CPUs (SLUB's orders grow with them)."""
    path = re.sub(r"\.jsonl(\.gz)?$", "", trace_path) + ".slabinfo"
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return {}
    return {f[0]: int(f[3]) for f in (line.split() for line in lines[2:]) if len(f) > 5}


def per_node(path: str) -> OrderedDict:
    """What a node's first CPU adds as it comes up, from a trace of a
    machine whose second CPU is on a node of its own: workqueue's unbound
    pool for that node (``wq_update_unbound_numa``: the pool's attributes,
    its first worker and that worker's kthread, which kthreadd forks on the
    node) and the unbound workqueues' pool links, all on that node."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        events = [json.loads(line) for line in fh]
    window: list[dict] = []
    for e in events:
        if e.get("ev") == "pack_entry":
            break
        if e.get("ev") not in ("alloc", "bulk"):
            continue
        frames = _strip(e["frames"])
        if "wq_update_unbound_numa" in frames or (window and e["comm"] == "kthreadd"
                                                  and "dup_task_struct" in frames):
            window.append(e)
    # kthreadd's forks after the last pool link are other kthreads
    while window and "wq_update_unbound_numa" not in _strip(window[-1]["frames"]):
        window.pop()
    rows: list[dict] = []
    for e in window:
        count = 1 if e["ev"] == "alloc" else len(e["pfns"])
        _append(rows, {"order": e["order"], "gfp": e["gfp"], "count": count, "policy": "cpu",
                       "what": what(e, e.get("cache"))})
    if not rows:
        return OrderedDict()
    return OrderedDict([("wq_update_unbound_numa",
                         {"anchor": ("before", "smp_init"), "rows": rows})])


def _emit(fn: str, call: dict, sizes: dict[str, int], *, cpu: bool = False,
          node: bool = False) -> None:
    where, step = call["anchor"]
    print()
    print("[[call]]")
    print(f'function = "{fn}"')
    print(f'{where} = "{step}"')
    if cpu:
        print("per_cpu = true")
    if node:
        print("per_node = true")
    print("allocations = [")
    for r in call["rows"]:
        size = sizes.get(r["what"][5:]) if r["what"].startswith("slab ") else None
        extra = f", size = {size}" if size else ""
        print(f'  {{ order = {r["order"]}, gfp = {r["gfp"]:#x}, count = {r["count"]}, '
              f'policy = "{r["policy"]}", what = "{r["what"]}"{extra} }},')
    print("]")


def main() -> None:
    path, release, *more = sys.argv[1:]
    calls = table(load(path))
    sizes = slab_sizes(path)
    print(f"# {release}: the page allocations the kernel makes between kmem_cache_init and")
    print("# the BPF JIT's first pack besides those the simulation makes by its own rules,")
    print("# kernel function by kernel function, on one CPU, and (per_cpu) what each")
    print("# further CPU's bring-up adds. Generated by tools/realboot/trace/boot_allocations.py")
    print(f"# from {' and '.join(p.rsplit('/', 1)[-1] for p in [path, *more])}"
          + (" (slab sizes from its .slabinfo)." if sizes else "."))
    print(f'release = "{release}"')
    for fn, call in calls.items():
        _emit(fn, call, sizes)
    if more:
        for fn, call in per_cpu(calls, table(load(more[0]), strict=False)).items():
            _emit(fn, call, sizes, cpu=True)
    if len(more) > 1:
        for fn, call in per_node(more[1]).items():
            _emit(fn, call, sizes, node=True)


if __name__ == "__main__":
    main()
