//! Helpers shared by the page-table tests.

pub use crate::error::MmError;
pub use crate::page_source::{BumpPageSource, PageSource, PageUse};
pub use crate::pagetable::direct_map::*;
pub use crate::pagetable::*;

pub const K4: u64 = 1 << 12;
pub const M2: u64 = 1 << 21;
pub const G1: u64 = 1 << 30;

/// A source of pfns from 0x1000 up, plenty of them.
pub fn source() -> BumpPageSource {
    BumpPageSource::new(0x1000, 1 << 30)
}

pub fn x86() -> (PageTable, BumpPageSource) {
    let mut src = source();
    let pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    (pt, src)
}

pub fn all_formats() -> Vec<PageTableFormat> {
    vec![
        PageTableFormat::x86_64_4level(),
        PageTableFormat::x86_64_5level(),
        PageTableFormat::riscv_sv39(),
        PageTableFormat::riscv_sv48(),
        PageTableFormat::arm64_4k_48bit(),
    ]
}

/// Everything observable about a table (tables, leaf counts, and the walk
/// of each probe address), to check that failed operations changed nothing.
pub fn snapshot(pt: &PageTable, probes: &[u64]) -> (u64, LeafCounts, Vec<Vec<WalkStep>>) {
    pt.check_invariants().unwrap();
    (pt.page_table_pages(), pt.leaf_counts_total(), probes.iter().map(|&v| pt.walk(v).unwrap()).collect())
}

/// A source that fails after `n` more allocations.
pub struct FailingSource {
    pub inner: BumpPageSource,
    pub left: u32,
}

impl PageSource for FailingSource {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: PageUse) -> crate::Result<u64> {
        if self.left == 0 {
            return Err(MmError::OutOfMemory { request: "test".into() });
        }
        self.left -= 1;
        self.inner.alloc_pages(order, nid, usage)
    }
    fn free_pages(&mut self, pfn: u64, order: u32, usage: PageUse) -> crate::Result<()> {
        self.inner.free_pages(pfn, order, usage)
    }
}
