"""The order of the boot: ``setup_arch``, the memory part of ``start_kernel``,
``mm_init()`` step by step for each kernel profile, and the late deferred
struct page init.
"""

from __future__ import annotations

import functools

from mmsvc.boot.context import BootContext
from mmsvc.boot.steps import Step, StepKind, arch_step
from mmsvc.errors import PluginError
from mmsvc.klog import KERN_NOTICE
from mmsvc.mm import (
    boot_allocations,
    dma_atomic_pool,
    ftrace,
    hashes,
    hugetlb,
    hugetlb_vmemmap,
    init,
    isolation,
    khugepaged,
    memory_blocks,
    mempolicy,
    page_alloc,
    printk,
)
from mmsvc.units import SMP_CACHE_BYTES

G, A = StepKind.GENERIC, StepKind.ARCH

#: mm_init() of 5.14 (init/main.c), in order
MM_INIT_5_14 = (
    "page_ext_init_flatmem", "init_mem_debugging_and_hardening", "kfence_alloc_pool",
    "report_meminit", "stack_depot_init", "mem_init", "mem_init_print_info",
    "page_ext_init_flatmem_late", "kmem_cache_init", "kmemleak_init", "pgtable_init",
    "debug_objects_mem_init", "vmalloc_init", "init_espfix_bsp", "pti_init",
)

#: mm_init() of 6.1 (the Debian 6.1.192 tree)
MM_INIT_6_1 = (
    "page_ext_init_flatmem", "init_mem_debugging_and_hardening", "kfence_alloc_pool",
    "report_meminit", "kmsan_init_shadow", "stack_depot_early_init", "mem_init",
    "mem_init_print_info", "kmem_cache_init", "page_ext_init_flatmem_late", "kmemleak_init",
    "pgtable_init", "debug_objects_mem_init", "vmalloc_init", "page_ext_init",
    "init_espfix_bsp", "pti_init", "kmsan_init_runtime", "mm_cache_init",
)

#: steps only some architectures have; the arch plugin answers them
ARCH_STEPS = frozenset({"mem_init", "init_espfix_bsp", "pti_init", "setup_per_cpu_areas",
                        "trap_init", "poking_init", "init_IRQ", "arch_cpu_finalize_init",
                        "sock_init"})

_DOCS = {
    "page_ext_init_flatmem": "FLATMEM page_ext array from memblock",
    "init_mem_debugging_and_hardening": "settle init_on_alloc/init_on_free vs page poisoning",
    "kfence_alloc_pool": "KFENCE object pool from memblock",
    "report_meminit": "print the mem auto-init line",
    "stack_depot_init": "stack depot hash table from memblock (5.14)",
    "stack_depot_early_init": "stack depot table, only when requested early (6.1)",
    "kmsan_init_shadow": "KMSAN shadow (not in these configs)",
    "mem_init": "architecture: release memblock to the buddy allocator",
    "mem_init_print_info": "print the Memory: line",
    "page_ext_init_flatmem_late": "FLATMEM page_ext late part",
    "kmem_cache_init": "bring up SLUB and the kmalloc caches",
    "kmemleak_init": "kmemleak (not in these configs)",
    "pgtable_init": "page-table lock and pgd caches",
    "debug_objects_mem_init": "debug objects cache (not in these configs)",
    "vmalloc_init": "make the vmalloc space usable",
    "page_ext_init": "page_ext when early_page_ext (6.1)",
    "init_espfix_bsp": "architecture: espfix stacks (x86_64)",
    "pti_init": "architecture: page-table isolation (x86_64)",
    "kmsan_init_runtime": "KMSAN runtime (not in these configs)",
    "mm_cache_init": "the mm_struct cache (6.1)",
}


def _generic(name: str):
    impls = {
        "page_ext_init_flatmem": init.page_ext_init_flatmem,
        "init_mem_debugging_and_hardening": init.init_mem_debugging_and_hardening,
        "kfence_alloc_pool": init.kfence_alloc_pool,
        "report_meminit": init.report_meminit,
        "stack_depot_init": init.stack_depot_init,
        "stack_depot_early_init": init.stack_depot_init,
        "mem_init_print_info": page_alloc.mem_init_print_info,
        "kmem_cache_init": init.kmem_cache_init,
        "vmalloc_init": init.vmalloc_init,
    }
    if name in impls:
        return impls[name]
    return init.noop(_DOCS.get(name, "nothing to do on this configuration"))


def _arch_substeps(ctx: BootContext, parent: Step) -> list[Step]:
    answers = ctx.pm.call_guarded("mmsvc_arch_steps", ctx=ctx, phase=parent.name)
    subs = [s for answer in answers or () if answer for s in answer]
    for s in subs:
        if not isinstance(s, Step):
            raise PluginError(f"mmsvc_arch_steps returned {type(s).__name__} for "
                              f"{parent.name!r}, expected mmsvc.boot.steps.Step",
                              hook="mmsvc_arch_steps")
        s.parent = parent.path
        s.phase = parent.phase
    return subs


def _arch_step(ctx: BootContext, name: str, phase: str, doc: str) -> Step:
    step = arch_step(name, phase, doc)
    step.substeps = _arch_substeps(ctx, step)
    return step


def _setup_command_line(ctx: BootContext) -> None:
    """``setup_command_line``: saved_command_line and static_command_line,
    each the command line and its NUL, cache-line aligned."""
    for _ in range(2):
        ctx.mm.memblock.alloc(len(ctx.machine.cmdline) + 1, SMP_CACHE_BYTES,
                              caller="setup_command_line")


def build_steps(ctx: BootContext) -> list[Step]:
    """The boot's top-level steps (with sub-steps) for ``ctx``'s profile and arch."""
    steps: list[Step] = []
    setup = _arch_step(ctx, "setup_arch", "setup_arch",
                       "firmware memory map to memblock, reservations, zones")
    if not setup.substeps:
        raise PluginError(f"architecture {ctx.arch.name!r} provides no setup_arch steps "
                          f"(plugin {ctx.arch.plugin!r} must implement mmsvc_arch_steps)",
                          plugin=ctx.arch.plugin, hook="mmsvc_arch_steps")
    steps.append(setup)

    sk = "start_kernel"
    steps.append(Step("setup_command_line", sk, G, _setup_command_line,
                      doc="the saved and static copies of the command line, from memblock"))
    steps.append(_arch_step(ctx, "setup_per_cpu_areas", sk, "the first per-cpu chunk"))
    steps.append(Step("build_all_zonelists", sk, G, page_alloc.build_all_zonelists,
                      doc="zonelists and the Total pages line"))
    steps.append(Step("parse_args", sk, G, _print_cmdline,
                      doc="print the command line; gigantic pages hugepages= asks for"))
    steps.append(Step("setup_log_buf", sk, G, _setup_log_buf,
                      doc="a bigger log buffer for log_buf_len= or many possible CPUs"))
    steps.append(Step("vfs_caches_init_early", sk, G, _vfs_caches_init_early,
                      doc="dentry and inode hash tables"))
    steps.append(_arch_step(ctx, "trap_init", sk,
                            "architecture: exception entry (x86_64: cpu_entry_area tables)"))

    names = MM_INIT_6_1 if ctx.profile_at_least("6.1") else MM_INIT_5_14
    for name in names:
        if name in ARCH_STEPS:
            steps.append(_arch_step(ctx, name, "mm_init", _DOCS.get(name, "")))
        else:
            steps.append(Step(name, "mm_init", G, _generic(name), doc=_DOCS.get(name, "")))

    steps.append(_arch_step(ctx, "poking_init", "start_kernel",
                            "architecture: the mm text patching maps through (x86_64: its "
                            "page tables)"))
    steps.append(Step("ftrace_init", "start_kernel", G, ftrace.ftrace_init,
                      doc="the dynamic-ftrace records, in page groups"))
    steps.append(_arch_step(ctx, "init_IRQ", "start_kernel",
                            "architecture: interrupt vectors (x86_64: the IDT page made "
                            "read-only)"))
    steps.append(Step("setup_per_cpu_pageset", "start_kernel", G, _setup_per_cpu_pageset,
                      doc="the real per-cpu page lists replace the boot pagesets, a "
                          "zone's high split over its node's CPUs"))
    steps.append(Step("numa_policy_init", "start_kernel", G, mempolicy.numa_policy_init,
                      doc="the boot task interleaves its allocations over the nodes"))
    steps.append(_arch_step(ctx, "arch_cpu_finalize_init", "start_kernel",
                            "architecture: the boot CPU's final set-up (x86_64: the SMP "
                            "alternatives patched and their lock table freed)"))
    steps.append(_arch_step(ctx, "efi_enter_virtual_mode", "start_kernel",
                            "architecture: UEFI runtime services mapped (x86_64: before "
                            "6.1's deferred free, 5.14 gives the boot-services memory back "
                            "here)"))
    steps.append(Step("vfs_caches_init", "start_kernel", G, _vfs_caches_init,
                      doc="dentry and inode hash tables spread over the nodes (hashdist)"))
    steps.append(Step("smp_init", "late", G, _smp_init,
                      doc="the secondary CPUs brought up, and the count printed"))
    steps.append(Step("page_alloc_init_late", "late", G, page_alloc.page_alloc_init_late,
                      doc="free the deferred struct pages"))
    steps.append(_arch_step(ctx, "driver_init", "late",
                            "architecture: the device model's set-up (x86_64: the memory "
                            "block size of memory hotplug)"))
    steps.append(Step("futex_init", "late", G, _futex_init,
                      doc="the futex hash, 256 buckets per possible CPU (core_initcall)"))
    steps.append(_arch_step(ctx, "sock_init", "late",
                            "architecture: the first BPF JIT image, the PTP classifier's "
                            "(core_initcall)"))
    steps.append(Step("dma_atomic_pool_init", "late", G, dma_atomic_pool.dma_atomic_pool_init,
                      doc="the DMA atomic pools from the buddy allocator (postcore_initcall)"))
    steps.append(Step("init_per_zone_wmark_min", "late", G, _init_per_zone_wmark_min,
                      doc="min_free_kbytes, watermarks and lowmem_reserve (postcore_initcall)"))
    steps.append(_arch_step(ctx, "efi_free_boot_services", "late",
                            "architecture: firmware memory given back once the firmware "
                            "no longer needs it (x86_64: UEFI's boot-services code and "
                            "data; arch_initcall)"))
    steps.append(_arch_step(ctx, "pci_arch_init", "late",
                            "architecture: PCI's access set up (x86_64: the MCFG table's "
                            "configuration-space windows checked against e820 and "
                            "ioremapped; arch_initcall)"))
    steps.append(_arch_step(ctx, "pci_subsys_init", "late",
                            "architecture: the PCI resources (x86_64: the RAM buffers "
                            "e820__reserve_resources_late keeps from PCI; subsys_initcall)"))
    steps.append(Step("hugetlb_init", "late", G, hugetlb.hugetlb_init,
                      doc="huge page sizes registered, their pools filled (subsys_initcall)"))
    steps.append(Step("hugepage_init", "late", G, khugepaged.hugepage_init,
                      doc="khugepaged raises min_free_kbytes for transparent huge pages "
                          "(subsys_initcall)"))
    steps.append(_arch_step(ctx, "acpi_init", "late",
                            "architecture: the ACPI interpreter's set-up (x86_64: MMCONFIG "
                            "tried again through ACPI motherboard resources; "
                            "subsys_initcall)"))
    steps.append(Step("netlbl_init", "late", G, hashes.netlbl_init,
                      doc="NetLabel's domain hash (subsys_initcall)"))
    steps.append(Step("dquot_init", "late", G, hashes.dquot_init,
                      doc="the quota hash, a page (fs_initcall)"))
    steps.append(Step("init_hugetlbfs_fs", "late", G, hugetlb.init_hugetlbfs_fs,
                      doc="hugetlbfs, or why it is off (fs_initcall)"))
    steps.append(Step("inet_init", "late", G, _inet_init,
                      doc="IPv4's hashes: IP idents, TCP, MPTCP, UDP (fs_initcall)"))
    steps.append(_arch_step(ctx, "pci_iommu_init", "late",
                            "architecture: DMA set-up reported (x86_64: the bounce buffer "
                            "kept and printed, or given back; rootfs_initcall)"))
    steps.append(_arch_step(ctx, "free_initmem", "late",
                            "give back the initrd, init sections and image gaps"))
    steps.append(Step("numa_default_policy", "late", G, mempolicy.numa_default_policy,
                      doc="allocations without a node go to the local node again"))
    driver_init = next(s for s in steps if s.name == "driver_init")
    driver_init.after.append(memory_blocks.memory_dev_init)
    driver_init.doc += "; then the memory blocks' sysfs devices (memory_dev_init)"
    _attach_recorded_calls(ctx, steps)
    return steps


def _attach_recorded_calls(ctx: BootContext, steps: list[Step]) -> None:
    """The build's recorded allocations (mmsvc.mm.boot_allocations), each
    call before or after the step it runs next to; the step's doc names
    them."""
    by_name = {leaf.name: leaf for s in steps for leaf in [s, *s.leaves()]}
    named: dict[str, list[str]] = {}
    for call in boot_allocations.calls_for(ctx):
        step = by_name.get(call.step)
        if step is None:
            continue
        work = functools.partial(boot_allocations.make, call=call)
        (step.before if call.when == "before" else step.after).append(work)
        named.setdefault(call.step, []).append(call.function)
    for name, functions in named.items():
        by_name[name].doc += f" (with the recorded allocations of {', '.join(functions)})"


def _init_per_zone_wmark_min(ctx: BootContext) -> None:
    cpus = ctx.g.num_online_cpus
    ctx.mm.set_online_cpus(cpus, ctx.node_cpumask_weights(cpus))
    ctx.results["min_free_kbytes"] = ctx.mm.init_per_zone_wmark_min()


def _print_cmdline(ctx: BootContext) -> None:
    ctx.pr_info(f"Kernel command line: {ctx.machine.cmdline}")
    ctx.parse_early_param()
    hugetlb_vmemmap.parse_args(ctx)
    hugetlb.hugetlb_parse_args(ctx)
    rejected = isolation.parse_args(ctx) | khugepaged.parse_args(ctx)
    unknown = ctx.cmdline.unknown_line(rejected, ctx.profile)
    if unknown:
        # print_unknown_bootoptions puts the list together in a memblock
        # buffer (a space before each word, and the terminator) and frees it
        size = len(" ".join(ctx.cmdline.unknown_with(rejected))) + 2
        mb = ctx.mm.memblock
        buf = mb.alloc(size, SMP_CACHE_BYTES, caller="print_unknown_bootoptions")
        ctx.printk(unknown, KERN_NOTICE)
        mb.free(buf, size, caller="print_unknown_bootoptions")


def _hashdist(ctx: BootContext) -> bool:
    """``hashdist``: NUMA kernels spread big hashes unless only one node has
    memory or ``hashdist=0`` (simple_strtoul: a bare or non-numeric value is 0)."""
    if ctx.cmdline.get("hashdist") is not None and not ctx.cmdline.get_int("hashdist", 0):
        return False
    return bool(ctx.kconfig.numa) and ctx.g.nr_memory_nodes > 1


def _setup_log_buf(ctx: BootContext) -> None:
    printk.setup_log_buf(ctx, early=False)


def _vfs_caches_init_early(ctx: BootContext) -> None:
    hashes.vfs_caches_init_early(ctx, _hashdist(ctx))


def _vfs_caches_init(ctx: BootContext) -> None:
    hashes.vfs_caches_init(ctx, _hashdist(ctx))


def _setup_per_cpu_pageset(ctx: BootContext) -> None:
    """The architecture placed each CPU on a node (``cpu_to_node``). A
    zone's per-cpu ``high`` is split over the online CPUs in its node's
    cpumask, or over all online CPUs when it has none: here only the boot
    CPU is up, and not yet in any cpumask (x86 adds it as it identifies it,
    later)."""
    if ctx.g.cpu_to_node:
        ctx.mm.set_cpu_to_node(list(ctx.g.cpu_to_node[:ctx.machine.cpus]))
    ctx.mm.set_online_cpus(1, [])
    ctx.mm.setup_per_cpu_pageset()


def _smp_init(ctx: BootContext) -> None:
    """``smp_init``'s summary: the present CPUs up to ``maxcpus=`` are online."""
    if not ctx.kconfig.smp:
        return
    cpus = ctx.g.num_online_cpus = ctx.online_cpus()
    if cpus > 1:
        # page_alloc's hotplug callback prepares each CPU before it is in
        # any cpumask, splitting every zone's high over one CPU more; the
        # last CPU's split is the one that lasts until init_per_zone_wmark_min
        last = cpus - 1
        ctx.mm.set_online_cpus(last, [n + 1 for n in ctx.node_cpumask_weights(last)])
    nodes = ctx.g.nr_online_nodes
    ctx.pr_info(f"smp: Brought up {nodes} node{'s' if nodes > 1 else ''}, "
                f"{cpus} CPU{'s' if cpus > 1 else ''}")


def _futex_init(ctx: BootContext) -> None:
    hashes.futex_init(ctx, _hashdist(ctx))


def _inet_init(ctx: BootContext) -> None:
    hashes.inet_init(ctx, _hashdist(ctx))
