# gdb -batch -nx -x trace.py ; env: PORT (QEMU's gdb stub), OUT (the JSON lines
# written), VMLINUX (the build's vmlinux with debug info: Debian's
# linux-image-6.1.0-56-amd64-dbg, /usr/lib/debug/boot/vmlinux-6.1.0-56-amd64).
# Records every page allocation (__alloc_pages and __alloc_pages_bulk) of the real
# Debian 6.1 kernel from start_kernel until bpf_prog_pack_alloc returns, with the
# kernel function running (phase), the task, the slab cache and the call chain.
# ALLOC/BULK and their _RET are the entry and return instructions of
# __alloc_pages and __alloc_pages_bulk in that build (gdb: disassemble them).
import json
import os

import gdb

PORT = os.environ.get("PORT", "1234")
OUT = open(os.environ["OUT"], "w")
VMLINUX = os.environ.get("VMLINUX", "/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64")

gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("file " + VMLINUX)
gdb.execute("set architecture i386:x86-64")
gdb.execute("target remote :" + PORT)

ALLOC = 0xffffffff812f9230
ALLOC_RET = 0xffffffff812f9353
BULK = 0xffffffff812f9560
BULK_RET = 0xffffffff812f999c

state = {"seq": 0, "phase": "early", "pack": False, "done": False}
pending = {}      # cpu -> list of dicts (nested __alloc_pages)
bulkpend = {}     # cpu -> list
recorded = []     # list of records (allocations)

def ev(v):
    return gdb.parse_and_eval(v)

def u64(v):
    return int(v) & 0xffffffffffffffff

def cpu():
    return gdb.selected_thread().num - 1

def task_info():
    try:
        gs = u64(ev("$gs_base"))
        t = ev(f"*(struct task_struct **)({gs} + (unsigned long)&current_task)")
        pc = int(ev(f"*(int *)({gs} + (unsigned long)&__preempt_count)"))
        return t["comm"].string(), int(t["pid"]), pc
    except Exception:
        return "?", -1, -1

def cur_ptr():
    try:
        gs = u64(ev("$gs_base"))
        return u64(ev(f"*(unsigned long *)({gs} + (unsigned long)&current_task)"))
    except Exception:
        return 0

def frames(n=28):
    out = []
    try:
        f = gdb.newest_frame()
        while f is not None and len(out) < n:
            nm = f.name() or hex(f.pc())
            if f.type() == gdb.INLINE_FRAME:
                nm = "i:" + nm
            out.append(nm)
            f = f.older()
    except Exception as e:
        out.append("!" + str(e)[:40])
    return out

def slab_cache_from_frames():
    try:
        f = gdb.newest_frame()
        k = 0
        while f is not None and k < 30:
            if f.name() in ("allocate_slab", "new_slab", "___slab_alloc"):
                try:
                    s = f.read_var("s")
                    return s["name"].string()
                except Exception:
                    pass
            f = f.older()
            k += 1
    except Exception:
        pass
    return None

VMEMMAP = None
def pfn_of(page):
    global VMEMMAP
    if VMEMMAP is None:
        VMEMMAP = u64(ev("(unsigned long)vmemmap_base"))
    return (page - VMEMMAP) // 64

def emit(d):
    state["seq"] += 1
    d["seq"] = state["seq"]
    d["phase"] = state["phase"]
    d["pack"] = state["pack"]
    OUT.write(json.dumps(d) + "\n")

class AllocEntry(gdb.Breakpoint):
    def stop(self):
        rsp = u64(ev("$rsp"))
        d = {"gfp": u64(ev("$rdi")) & 0xffffffff, "order": u64(ev("$rsi")) & 0xffffffff,
             "nid": int(ev("(int)$rdx")), "rsp": rsp, "frames": frames()}
        sc = slab_cache_from_frames()
        if sc:
            d["cache"] = sc
        pending[rsp] = d
        return False

class AllocRet(gdb.Breakpoint):
    def stop(self):
        c = cpu()
        rsp = u64(ev("$rsp"))
        d = pending.pop(rsp, None)
        if d is None:
            comm, pid, pc = task_info()
            page = u64(ev("$rax"))
            OUT.write(json.dumps({"warn": "unmatched ret", "cpu": c, "rsp": rsp,
                                  "comm": comm, "pid": pid,
                "pfn": pfn_of(page) if page else None,
                "pending": len(pending),
                "frames": frames()}) + "\n")
            return False
        page = u64(ev("$rax"))
        comm, pid, pc = task_info()
        rec = {"ev": "alloc", "cpu": c, "comm": comm, "pid": pid, "pcnt": pc,
               "order": d["order"], "gfp": d["gfp"], "nid": d["nid"],
               "pfn": pfn_of(page) if page else None, "frames": d["frames"]}
        if "cache" in d:
            rec["cache"] = d["cache"]
        tp = cur_ptr()
        for b in bulkpend.values():
            if page and b["task"] == tp:
                b["nested"].add(page)
        emit(rec)
        if page:
            recorded.append(rec)
        return False

class BulkEntry(gdb.Breakpoint):
    def stop(self):
        arr = u64(ev("$r9"))
        n = u64(ev("$rcx")) & 0xffffffff
        prior = set()
        if arr:
            for i in range(n):
                p = u64(ev(f"((unsigned long *){arr})[{i}]"))
                if p:
                    prior.add(p)
        d = {"gfp": u64(ev("$rdi")) & 0xffffffff, "nid": int(ev("(int)$rsi")), "n": n,
             "arr": arr, "list": u64(ev("$r8")), "prior": prior, "nested": set(),
             "rsp": u64(ev("$rsp")), "task": cur_ptr(), "frames": frames()}
        bulkpend[d["rsp"]] = d
        return False

class BulkRet(gdb.Breakpoint):
    def stop(self):
        c = cpu()
        rsp = u64(ev("$rsp"))
        d = bulkpend.pop(rsp, None)
        if d is None:
            OUT.write(json.dumps({"warn": "unmatched bulk ret", "cpu": c}) + "\n")
            return False
        comm, pid, pc = task_info()
        ret = u64(ev("$rax"))
        pfns = []
        if d["arr"]:
            for i in range(d["n"]):
                p = u64(ev(f"((unsigned long *){d['arr']})[{i}]"))
                if p and p not in d["prior"] and p not in d["nested"]:
                    pfns.append(pfn_of(p))
        rec = {"ev": "bulk", "cpu": c, "comm": comm, "pid": pid, "pcnt": pc,
               "order": 0, "gfp": d["gfp"], "nid": d["nid"], "n": d["n"], "ret": ret,
               "nested": len(d["nested"]), "listmode": d["list"] != 0,
               "pfns": pfns, "frames": d["frames"]}
        emit(rec)
        for p in pfns:
            recorded.append(dict(rec, pfn=p))
        return False

RMQ = 0xffffffff812f5510
RMQ_RET = 0xffffffff812f581e
rmqpend = {}

class RmqEntry(gdb.Breakpoint):
    def stop(self):
        lst = u64(ev("$rcx"))
        d = {"order": u64(ev("$rsi")) & 0xffffffff, "count": u64(ev("$rdx")) & 0xffffffff,
             "mt": u64(ev("$r8")) & 0xffffffff, "list": lst,
             "tail": u64(ev(f"*(unsigned long *)({lst} + 8)")),
             "zone": ev(f"((struct zone *){u64(ev('$rdi'))})->name").string()}
        rmqpend[u64(ev("$rsp"))] = d
        return False

class RmqRet(gdb.Breakpoint):
    def stop(self):
        d = rmqpend.pop(u64(ev("$rsp")), None)
        if d is None:
            return False
        ret = u64(ev("$rax")) & 0xffffffff
        pfns = []
        node = u64(ev(f"*(unsigned long *){d['tail']}"))
        k = 0
        while node != d["list"] and k < 600:
            pfns.append(pfn_of(node - 8))
            node = u64(ev(f"*(unsigned long *){node}"))
            k += 1
        comm, pid, pc = task_info()
        OUT.write(json.dumps({"ev": "rmqueue_bulk", "cpu": cpu(), "comm": comm, "pid": pid,
                              "order": d["order"], "count": d["count"], "mt": d["mt"],
                              "zone": d["zone"], "ret": ret, "pfns": pfns, "seq": state["seq"],
                              "phase": state["phase"]}) + "\n")
        return False

class Phase(gdb.Breakpoint):
    def __init__(self, spec, name):
        super().__init__(spec, internal=True)
        self.pname = name
    def stop(self):
        nm = self.pname
        if nm == "initcall":
            rdi = u64(ev("$rdi"))
            try:
                nm = "initcall:" + gdb.block_for_pc(rdi).function.name
            except Exception:
                nm = "initcall:" + hex(rdi)
        state["phase"] = nm
        comm, pid, pc = task_info()
        OUT.write(json.dumps({"ev": "phase", "name": nm, "cpu": cpu(), "comm": comm,
                              "seq": state["seq"]}) + "\n")
        return False

class PackEntry(gdb.Breakpoint):
    def stop(self):
        state["pack"] = True
        ra = u64(ev("*(unsigned long *)$rsp"))
        OUT.write(json.dumps({"ev": "pack_entry", "seq": state["seq"], "cpu": cpu(),
                              "frames": frames()}) + "\n")
        state["ra"] = ra
        return True

class PackDone(gdb.Breakpoint):
    def stop(self):
        state["done"] = True
        OUT.write(json.dumps({"ev": "pack_done", "seq": state["seq"],
                              "ret": hex(u64(ev("$rax")))}) + "\n")
        return True

ALLBP = []
ALLBP.append(AllocEntry(f"*{ALLOC}", internal=True))
ALLBP.append(AllocRet(f"*{ALLOC_RET}", internal=True))
ALLBP.append(BulkEntry(f"*{BULK}", internal=True))
ALLBP.append(BulkRet(f"*{BULK_RET}", internal=True))
ALLBP.append(RmqEntry(f"*{RMQ}", internal=True))
ALLBP.append(RmqRet(f"*{RMQ_RET}", internal=True))
for fn in ["kmem_cache_init", "vmalloc_init", "init_espfix_bsp", "pti_init", "mm_cache_init",
           "poking_init", "ftrace_init", "early_trace_init", "sched_init", "radix_tree_init",
           "maple_tree_init", "workqueue_init_early", "rcu_init", "trace_init",
           "early_irq_init", "init_IRQ", "init_timers", "softirq_init", "time_init",
           "perf_event_init", "kmem_cache_init_late", "console_init", "setup_per_cpu_pageset",
           "numa_policy_init", "acpi_early_init", "calibrate_delay", "arch_cpu_finalize_init",
           "pid_idr_init", "anon_vma_init", "thread_stack_cache_init", "cred_init", "fork_init",
           "proc_caches_init", "uts_ns_init", "key_init", "security_init", "net_ns_init",
           "vfs_caches_init", "pagecache_init", "signals_init", "seq_file_init",
           "proc_root_init", "nsfs_init", "cpuset_init", "cgroup_init", "taskstats_init_early",
           "delayacct_init", "acpi_subsystem_init", "arch_post_acpi_subsys_init",
           "rest_init", "kernel_init", "kernel_init_freeable", "workqueue_init",
           "init_mm_internals", "rcu_init_tasks_generic", "do_pre_smp_initcalls",
           "lockup_detector_init", "smp_init", "idle_threads_init", "bringup_nonboot_cpus",
           "sched_init_smp", "padata_init", "page_alloc_init_late", "page_ext_init",
           "do_basic_setup", "cpuset_init_smp", "driver_init", "init_irq_proc",
           "do_ctors", "do_initcalls"]:
    try:
        ALLBP.append(Phase(fn, fn))
    except Exception:
        OUT.write(json.dumps({"warn": "no phase bp " + fn}) + "\n")
ALLBP.append(Phase("do_one_initcall", "initcall"))
PE = PackEntry("bpf_prog_pack_alloc", internal=True)
ALLBP.append(PE)

def dump_final():
    # state of every recorded page now
    try:
        pg_slab = int(ev("(int)PG_slab"))
    except Exception:
        pg_slab = 9
    res = {}
    for r in recorded:
        pfn = r["pfn"]
        if pfn is None or pfn in res:
            continue
        try:
            pg = f"((struct page *)({VMEMMAP} + {pfn}*64))"
            flags = u64(ev(pg + "->flags"))
            ptype = u64(ev("(unsigned int)" + pg + "->page_type")) & 0xffffffff
            cnt = int(ev(pg + "->_refcount.counter"))
            d = {"flags": hex(flags & 0xfffffff), "refcnt": cnt,
                 "buddy": (ptype & 0xf0000080) == 0xf0000000}
            if flags & (1 << pg_slab):
                try:
                    d["slab"] = ev(f"((struct slab *){pg})->slab_cache->name").string()
                except Exception:
                    d["slab"] = "?"
            res[pfn] = d
        except Exception as e:
            res[pfn] = {"err": str(e)[:60]}
    pages = {str(k): v for k, v in res.items()}
    OUT.write(json.dumps({"ev": "final_pages", "pages": pages}) + "\n")
    # task stacks
    stacks = {}
    def add_task(t):
        try:
            comm = t["comm"].string()
            pid = int(t["pid"])
            vm = t["stack_vm_area"]
            if int(vm) != 0:
                npg = int(vm["nr_pages"])
                for i in range(npg):
                    p = u64(vm["pages"][i])
                    stacks[str(pfn_of(p))] = f"{comm}/{pid}"
            else:
                stacks["lin:" + hex(u64(t["stack"]))] = f"{comm}/{pid}"
        except Exception:
            pass
    init = ev("init_task")
    add_task(init)
    head = init["tasks"].address
    off = int(ev("(unsigned long)&((struct task_struct *)0)->tasks"))
    node = init["tasks"]["next"]
    k = 0
    while u64(node) != u64(head) and k < 2000:
        t = ev(f"*(struct task_struct *){u64(node) - off}")
        add_task(t)
        node = t["tasks"]["next"]
        k += 1
    ncpu = int(ev("nr_cpu_ids"))
    for c in range(ncpu):
        try:
            po = u64(ev(f"__per_cpu_offset[{c}]"))
            t = ev(f"*(struct task_struct **)({po} + (unsigned long)&idle_threads)")
            if u64(t):
                add_task(t.dereference())
        except Exception:
            pass
    OUT.write(json.dumps({"ev": "final_stacks", "ntasks": k, "stacks": stacks}) + "\n")
    OUT.flush()

while True:
    try:
        gdb.execute("continue")
    except Exception as e:
        OUT.write(json.dumps({"warn": "continue ended: " + str(e)}) + "\n")
        break
    if state["done"]:
        break
    if "ra" in state and not state.get("pdset"):
        state["pdset"] = True
        PE.enabled = False
        ALLBP.append(PackDone(f"*{state['ra']}", internal=True))
        continue
    OUT.write(json.dumps({"warn": "unexpected stop"}) + "\n")
    break
if state["done"]:
    dump_final()
    for b in ALLBP:
        try:
            b.delete()
        except Exception:
            pass
    OUT.flush()
    gdb.execute("detach")
OUT.close()
