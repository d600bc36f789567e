//! What /proc shows of the vmalloc space: the `Vmalloc*` lines of
//! /proc/meminfo and /proc/vmallocinfo.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::area::{VmFlags, VmStruct};
use super::VmallocSpace;

/// The /proc/meminfo counters of the vmalloc space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VmallocMeminfo {
    /// `VmallocTotal`: `(VMALLOC_END - VMALLOC_START) >> 10`.
    pub vmalloc_total_kb: u64,
    /// `VmallocUsed`: `vmalloc_nr_pages()` in kB.
    pub vmalloc_used_kb: u64,
    /// `VmallocChunk`: always 0 (since 4.4).
    pub vmalloc_chunk_kb: u64,
}

impl VmallocMeminfo {
    /// The three lines as /proc/meminfo prints them (`VmallocTotal:   %8lu kB`).
    pub fn lines(&self) -> Vec<String> {
        [
            ("VmallocTotal:", self.vmalloc_total_kb),
            ("VmallocUsed:", self.vmalloc_used_kb),
            ("VmallocChunk:", self.vmalloc_chunk_kb),
        ]
        .iter()
        .map(|(label, v)| format!("{label:<16}{v:>8} kB"))
        .collect()
    }
}

impl VmallocSpace {
    /// meminfo `VmallocTotal` (kB).
    pub fn vmalloc_total_kb(&self) -> u64 {
        (self.end - self.start) >> 10
    }

    /// meminfo `VmallocUsed` (kB): pages held by vmalloc areas, as
    /// `vmalloc_nr_pages()` counts them (vmap and ioremap areas own none).
    pub fn vmalloc_used_kb(&self) -> u64 {
        self.nr_vmalloc_pages << 2
    }

    /// meminfo `VmallocChunk` (kB): 0 in 5.14 and 6.1.
    pub fn vmalloc_chunk_kb(&self) -> u64 {
        0
    }

    /// The three meminfo counters.
    pub fn meminfo(&self) -> VmallocMeminfo {
        VmallocMeminfo {
            vmalloc_total_kb: self.vmalloc_total_kb(),
            vmalloc_used_kb: self.vmalloc_used_kb(),
            vmalloc_chunk_kb: self.vmalloc_chunk_kb(),
        }
    }

    /// Base pages of `vm` per node, nodes ascending, zero counts left out.
    pub fn pages_per_node(&self, vm: &VmStruct) -> Vec<(i32, u64)> {
        if vm.nr_pages == 0 {
            return Vec::new();
        }
        if self.node_map.is_empty() {
            return vec![(0, vm.nr_pages)];
        }
        let step = 1u64 << vm.page_order;
        let mut counts: BTreeMap<i32, u64> = BTreeMap::new();
        for &p in &vm.pages {
            *counts.entry(self.node_of(p).max(0)).or_insert(0) += step;
        }
        counts.into_iter().filter(|&(_, n)| n > 0).collect()
    }

    /// One line of /proc/vmallocinfo for `vm` (without the newline), in
    /// the kernel's format: `0x<start>-0x<end> <size, %7ld> <caller>
    /// [pages=N] [phys=0x%016llx] [ioremap] [vmalloc] [vmap] [user]
    /// [dma-coherent] [vpages] [N<nid>=<pages>...]`. Addresses print raw
    /// (what `%pK` shows to root with `kptr_restrict=0`).
    pub fn vmallocinfo_line(&self, vm: &VmStruct) -> String {
        let mut s = String::with_capacity(96);
        let _ = write!(s, "0x{:016x}-0x{:016x} {:>7}", vm.addr, vm.addr.wrapping_add(vm.size), vm.size);
        if !vm.caller.is_empty() {
            let _ = write!(s, " {}", vm.caller);
        }
        if vm.nr_pages != 0 {
            let _ = write!(s, " pages={}", vm.nr_pages);
        }
        if vm.phys_addr != 0 {
            let _ = write!(s, " phys=0x{:016x}", vm.phys_addr);
        }
        for (flag, word) in [
            (VmFlags::VM_IOREMAP, " ioremap"),
            (VmFlags::VM_ALLOC, " vmalloc"),
            (VmFlags::VM_MAP, " vmap"),
            (VmFlags::VM_USERMAP, " user"),
            (VmFlags::VM_DMA_COHERENT, " dma-coherent"),
        ] {
            if vm.flags.contains(flag) {
                s.push_str(word);
            }
        }
        if vm.pages_area.is_some() {
            s.push_str(" vpages");
        }
        for (nid, n) in self.pages_per_node(vm) {
            let _ = write!(s, " N{nid}={n}");
        }
        s
    }

    /// The whole of /proc/vmallocinfo: one line per area, by address.
    pub fn vmallocinfo(&self) -> String {
        let mut out = String::with_capacity(self.busy.len() * 96);
        for va in self.busy.values() {
            out.push_str(&self.vmallocinfo_line(&va.vm));
            out.push('\n');
        }
        out
    }
}
