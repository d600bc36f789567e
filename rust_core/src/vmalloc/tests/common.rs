//! Shared set-up for the vmalloc tests.

use crate::error::Result;
use crate::memblock::KernelVersion;
use crate::page_source::{BumpPageSource, PageSource, PageUse};
use crate::pagetable::{PageTable, PageTableFormat};
use crate::units::{Pfn, PAGE_SIZE};
use crate::vmalloc::VmallocSpace;

pub const START: u64 = 0xffff_c900_0000_0000;

/// A 4-level kernel page table, a roomy bump source and the x86_64 space.
pub fn setup(version: KernelVersion) -> (VmallocSpace, PageTable, BumpPageSource) {
    let mut src = BumpPageSource::new(0x1000, 0x100_0000);
    let pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
    (VmallocSpace::x86_64_4level().with_version(version), pt, src)
}

/// Everything observable about a space, page table and source, to check
/// that a failed call changed nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    info: String,
    free: Vec<(u64, u64)>,
    used: u64,
    pt_pages: u64,
    in_use: u64,
}

pub fn snapshot(vs: &VmallocSpace, pt: &PageTable, in_use: u64) -> Snapshot {
    Snapshot {
        info: vs.vmallocinfo(),
        free: vs.free_space().extents(),
        used: vs.nr_vmalloc_pages(),
        pt_pages: pt.page_table_pages(),
        in_use,
    }
}

/// Translate every page of every live area: pages it owns map to
/// themselves, the guard page is not mapped.
pub fn check_mappings(vs: &VmallocSpace, pt: &PageTable) {
    for va in vs.areas() {
        let vm = &va.vm;
        let chunk = PAGE_SIZE << vm.page_order;
        for (i, &p) in vm.pages.iter().enumerate() {
            for j in 0..(1u64 << vm.page_order) {
                let virt = vm.addr + i as u64 * chunk + j * PAGE_SIZE;
                assert_eq!(vs.vmalloc_to_pfn(pt, virt).unwrap(), p + j, "page {virt:#x}");
            }
        }
        if vm.size_without_guard() != vm.size {
            assert!(pt.translate_phys(va.va_end - PAGE_SIZE).is_none(), "guard page of {:#x} mapped", va.va_start);
        }
    }
}

/// A source that hands out order-0 pages from a bump source but refuses
/// higher orders, or everything after `budget` pages.
pub struct Picky {
    pub inner: BumpPageSource,
    pub max_order: u32,
    pub budget: u64,
}

impl PageSource for Picky {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: PageUse) -> Result<Pfn> {
        if order > self.max_order || self.budget < 1 << order {
            return Err(crate::MmError::OutOfMemory { request: format!("order {order}") });
        }
        self.budget -= 1 << order;
        self.inner.alloc_pages(order, nid, usage)
    }

    fn free_pages(&mut self, pfn: Pfn, order: u32, usage: PageUse) -> Result<()> {
        self.budget = self.budget.saturating_add(1 << order);
        self.inner.free_pages(pfn, order, usage)
    }
}
