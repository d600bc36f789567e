//! /proc/meminfo and /proc/vmallocinfo, checked against a real 6.1 boot.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::common::*;
use crate::memblock::KernelVersion;
use crate::error::Result;
use crate::page_source::{BumpPageSource, PageSource, PageUse};
use crate::units::Pfn;
use std::collections::VecDeque;
use crate::pagetable::{PageTable, PageTableFormat};
use crate::units::PAGE_SIZE;
use crate::vmalloc::{VmFlags, VmallocSpace};

#[test]
fn meminfo_lines() {
    let vs = VmallocSpace::x86_64_5level();
    assert_eq!(
        vs.meminfo().lines(),
        ["VmallocTotal:   13743895347199 kB", "VmallocUsed:           0 kB", "VmallocChunk:          0 kB"]
    );
    let vs = VmallocSpace::x86_64_4level();
    assert_eq!(vs.vmalloc_total_kb(), 34359738367);
    assert_eq!(vs.end(), 0xffff_e8ff_ffff_ffff);
}

#[test]
fn vmallocinfo_lines() {
    let (mut vs, mut pt, mut src) = setup(KernelVersion::V6_1);
    let a = vs.vmalloc(&mut pt, &mut src, 4 * PAGE_SIZE, 1, "kernel_clone+0xbf/0x430").unwrap();
    let _ = vs.vmap(&mut pt, &mut src, &[0x10, 0x11, 0x12, 0x13], VmFlags::VM_MAP, "irq_init_percpu_irqstack+0xf0/0x120");
    vs.set_node_map(vec![(0, 0x2_0000, 0), (0x2_0000, 0x100_0000, 1)]);
    src.next = 0x1_ffff; // one page on node 0, then node 1
    let c = vs.vmalloc(&mut pt, &mut src, 3 * PAGE_SIZE, 1, "").unwrap();
    let info = vs.vmallocinfo();
    let expect = format!(
        "0x{a:016x}-0x{:016x}   20480 kernel_clone+0xbf/0x430 pages=4 vmalloc N0=4\n\
         0x{:016x}-0x{:016x}   20480 irq_init_percpu_irqstack+0xf0/0x120 vmap\n\
         0x{c:016x}-0x{:016x}   16384 pages=3 vmalloc N0=1 N1=2\n",
        a + 0x5000,
        a + 0x5000,
        a + 0xa000,
        c + 0x4000
    );
    assert_eq!(info, expect);
    assert_eq!(vs.node_of(0x1_ffff), 0);
    assert_eq!(vs.node_of(0x100_0000), 0);
}

/// A fixture log, found from the crate's ancestors, or None.
fn fixture_named(name: &str) -> Option<String> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|d| d.join("shared/fixtures/dmesg").join(name))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok())
}

fn section<'a>(log: &'a str, name: &str) -> Vec<&'a str> {
    log.lines()
        .skip_while(|l| *l != format!("=== {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with("==="))
        .collect()
}

/// The line without its address range (`0x...-0x...`, 37 characters).
fn tail(line: &str) -> &str {
    &line[37..]
}

/// Replay the real boot's areas (sizes, callers, kinds) and compare each
/// line after the (hashed, in the log) addresses, and VmallocUsed.
#[test]
fn vmallocinfo_matches_real_boot() {
    let Some(log) = fixture_named("qemu-x86_64-2g-proc.log") else {
        eprintln!("fixture qemu-x86_64-2g-proc.log not found: skipped");
        return;
    };
    let real = section(&log, "/proc/vmallocinfo");
    assert!(real.len() > 50);
    let range = |l: &str| {
        let b = l.as_bytes();
        l.len() > 37
            && &l[..2] == "0x"
            && b[18] == b'-'
            && &l[19..21] == "0x"
            && l[2..18].bytes().chain(l[21..37].bytes()).all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    };
    // Page arrays the kernel vmalloc'ed for big areas show up by themselves.
    let mut skip: Vec<String> = Vec::new();
    for l in &real {
        assert!(range(l), "{l}");
        let f: Vec<&str> = l.split_whitespace().collect();
        if l.contains(" vpages") {
            let pages: u64 = f[3].strip_prefix("pages=").unwrap().parse().unwrap();
            let arr = (pages * 8).div_ceil(PAGE_SIZE);
            skip.push(format!(" {:>7} {} pages={arr} vmalloc N0={arr}", (arr + 1) * PAGE_SIZE, f[2]));
        }
    }
    let mut src = BumpPageSource::new(0x1000, 0x10_0000);
    let mut pt = PageTable::new(PageTableFormat::x86_64_5level(), &mut src).unwrap();
    let mut vs = VmallocSpace::x86_64_5level().with_version(KernelVersion::V6_1);
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &real {
        *want.entry(tail(l)).or_default() += 1;
        if let Some(i) = skip.iter().position(|s| s == tail(l)) {
            skip.remove(i);
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let size: u64 = f[1].parse().unwrap();
        let caller = f[2];
        if l.ends_with(" vmap") {
            let pfns: Vec<u64> = (0..size / PAGE_SIZE - 1).map(|i| 0x8_0000 + i).collect();
            vs.vmap(&mut pt, &mut src, &pfns, VmFlags::VM_MAP, caller).unwrap();
        } else if l.contains(" ioremap") {
            let phys = u64::from_str_radix(f[3].strip_prefix("phys=0x").unwrap(), 16).unwrap();
            vs.ioremap(&mut pt, &mut src, phys, size - PAGE_SIZE, caller).unwrap();
        } else if l.contains(" pages=") {
            vs.vmalloc(&mut pt, &mut src, size - PAGE_SIZE, 1, caller).unwrap();
        } else {
            vs.get_vm_area(size, VmFlags::VM_ALLOC | VmFlags::VM_NO_GUARD, caller).unwrap();
        }
    }
    assert!(skip.is_empty(), "page-array areas not found in the log: {skip:?}");
    let ours = vs.vmallocinfo();
    let mut got: BTreeMap<&str, usize> = BTreeMap::new();
    for l in ours.lines() {
        assert!(range(l), "{l}");
        *got.entry(tail(l)).or_default() += 1;
    }
    assert_eq!(got, want);
    let used = section(&log, "/proc/meminfo").into_iter().find(|l| l.starts_with("VmallocUsed:")).unwrap();
    assert_eq!(vs.meminfo().lines()[1], used);
    let total = section(&log, "/proc/meminfo").into_iter().find(|l| l.starts_with("VmallocTotal:")).unwrap();
    assert_eq!(vs.meminfo().lines()[0], total);
    check_mappings(&vs, &pt);
}

/// Hands out vmalloc pages from the node named by the front of `nids`
/// (node 0 when empty), page-table pages from elsewhere.
struct NodeSource {
    nids: VecDeque<i32>,
    next: [Pfn; 2],
    tables: Pfn,
}

impl PageSource for NodeSource {
    fn alloc_pages(&mut self, order: u32, _nid: Option<i32>, usage: PageUse) -> Result<Pfn> {
        assert_eq!(order, 0);
        if usage == PageUse::PageTable {
            self.tables += 1;
            return Ok(self.tables);
        }
        let n = self.nids.pop_front().unwrap_or(0) as usize;
        self.next[n] += 1;
        Ok(self.next[n])
    }

    fn free_pages(&mut self, _pfn: Pfn, _order: u32, _usage: PageUse) -> Result<()> {
        Ok(())
    }
}

/// `N0=a N1=b` as a queue of a zeros and b ones.
fn node_queue(line: &str) -> Vec<i32> {
    line.split_whitespace()
        .filter_map(|f| f.strip_prefix('N').and_then(|x| x.split_once('=')))
        .flat_map(|(nid, n)| std::iter::repeat_n(nid.parse::<i32>().unwrap(), n.parse().unwrap()))
        .collect()
}

/// The 2-node boot: per-node counts (`N0=.. N1=..`) of every area, the
/// page arrays of the three vpages areas included, come out as the
/// kernel printed them when the pages come from the same nodes.
#[test]
fn vmallocinfo_two_nodes() {
    let Some(log) = fixture_named("qemu-x86_64-4g-2node-proc.log") else {
        eprintln!("fixture qemu-x86_64-4g-2node-proc.log not found: skipped");
        return;
    };
    // Lazily freed areas ("unpurged vm_area"): our frees are immediate.
    let mut real: Vec<&str> = section(&log, "/proc/vmallocinfo").into_iter().filter(|l| !l.ends_with(" unpurged vm_area")).collect();
    assert!(real.len() > 50);
    let mut src = NodeSource { nids: VecDeque::new(), next: [0x1000, 0x10_0000], tables: 0x7_0000 };
    let mut pt = PageTable::new(PageTableFormat::x86_64_5level(), &mut src).unwrap();
    let mut vs = VmallocSpace::x86_64_5level().with_version(KernelVersion::V6_1);
    vs.set_node_map(vec![(0, 0x8_0000, 0), (0x8_0000, 0xc_0000, 1), (0x10_0000, 0x14_0000, 1)]);
    let want: BTreeMap<&str, usize> = real.iter().fold(BTreeMap::new(), |mut m, l| {
        *m.entry(tail(l)).or_default() += 1;
        m
    });
    // The page array of a vpages area is vmalloc'ed first, inside it:
    // take its line out and replay it with its owner.
    let mut arrays: Vec<(&str, &str)> = Vec::new();
    for l in real.clone().into_iter().filter(|l| l.contains(" vpages")) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let pages: u64 = f[3].strip_prefix("pages=").unwrap().parse().unwrap();
        let arr = (pages * 8).div_ceil(PAGE_SIZE);
        let head = format!(" {:>7} {} pages={arr} vmalloc ", (arr + 1) * PAGE_SIZE, f[2]);
        let i = real.iter().position(|r| tail(r).starts_with(&head)).unwrap();
        arrays.push((l, real.remove(i)));
    }
    while !real.is_empty() {
        let l = real.remove(0);
        let f: Vec<&str> = l.split_whitespace().collect();
        let size: u64 = f[1].parse().unwrap();
        let caller = f[2];
        if l.ends_with(" vmap") {
            vs.vmap(&mut pt, &mut src, &[1, 2, 3, 4], VmFlags::VM_MAP, caller).unwrap();
        } else if l.contains(" ioremap") {
            let phys = u64::from_str_radix(f[3].strip_prefix("phys=0x").unwrap(), 16).unwrap();
            vs.ioremap(&mut pt, &mut src, phys, size - PAGE_SIZE, caller).unwrap();
        } else if l.contains(" pages=") {
            src.nids.clear();
            if let Some(&(_, arr)) = arrays.iter().find(|(owner, _)| *owner == l) {
                src.nids.extend(node_queue(arr));
            }
            src.nids.extend(node_queue(l));
            vs.vmalloc(&mut pt, &mut src, size - PAGE_SIZE, 1, caller).unwrap();
            assert!(src.nids.is_empty());
        } else {
            vs.get_vm_area(size, VmFlags::VM_ALLOC | VmFlags::VM_NO_GUARD, caller).unwrap();
        }
    }
    let ours = vs.vmallocinfo();
    let got: BTreeMap<&str, usize> = ours.lines().fold(BTreeMap::new(), |mut m, l| {
        *m.entry(tail(l)).or_default() += 1;
        m
    });
    assert_eq!(got, want);
}
