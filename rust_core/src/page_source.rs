//! Where the kernel's own data structures get their pages.
//!
//! Page tables, slabs and vmalloc areas take pages from the simulated machine:
//! from memblock before `mem_init`, from the buddy allocator after. They do
//! it through this trait, so each engine is testable on its own with a
//! simple source and accounted for real when plugged into an [`crate::mm::Mm`].

use crate::error::Result;
use crate::units::Pfn;

/// What a page is used for, for the accounting /proc/meminfo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageUse {
    /// A page-table page (meminfo `PageTables`).
    PageTable,
    /// A slab page of a reclaimable cache (`SReclaimable`).
    SlabReclaimable,
    /// A slab page of an unreclaimable cache (`SUnreclaim`).
    SlabUnreclaimable,
    /// A page backing a vmalloc area (`VmallocUsed`).
    Vmalloc,
}

/// A supplier of physical pages.
pub trait PageSource {
    /// Allocate `2^order` contiguous pages for `usage`, preferably on node
    /// `nid` (`None`: any node). Returns the first pfn.
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: PageUse) -> Result<Pfn>;

    /// Give back pages obtained from [`PageSource::alloc_pages`] with the same
    /// `order` and `usage`.
    fn free_pages(&mut self, pfn: Pfn, order: u32, usage: PageUse) -> Result<()>;

    /// `mempolicy_slab_node`: the node SLUB's `get_any_partial` scans from
    /// before it makes a new slab for a request that names no node. Under
    /// an interleave policy picking it moves the task's interleave on, so
    /// the new slab's own pages land one node further. Nothing by default.
    fn mempolicy_slab_node(&mut self) {}

    /// Up to `count` single pages in one request (the kernel's bulk
    /// allocator), appended to `out`; returns how many. Fewer than asked
    /// is not an error (the caller falls back to single pages); an error
    /// means none was allocated. By default, single pages until one fails.
    fn alloc_pages_bulk(&mut self, count: usize, nid: Option<i32>, usage: PageUse, out: &mut Vec<Pfn>) -> Result<usize> {
        for n in 0..count {
            match self.alloc_pages(0, nid, usage) {
                Ok(p) => out.push(p),
                Err(e) if n == 0 => return Err(e),
                Err(_) => return Ok(n),
            }
        }
        Ok(count)
    }
}

/// A trivial source for tests and benches: hands out pfns upwards from
/// `next`, up to `limit`, and recycles freed single pages.
#[derive(Debug, Clone)]
pub struct BumpPageSource {
    /// Next never-used pfn.
    pub next: Pfn,
    /// One past the last pfn it may hand out.
    pub limit: Pfn,
    /// Freed order-0 pages, reused first.
    pub recycled: Vec<Pfn>,
    /// Pages currently handed out.
    pub in_use: u64,
}

impl BumpPageSource {
    /// A source of the pfns `[start, limit)`.
    pub fn new(start: Pfn, limit: Pfn) -> Self {
        BumpPageSource { next: start, limit, recycled: Vec::new(), in_use: 0 }
    }
}

impl PageSource for BumpPageSource {
    fn alloc_pages(&mut self, order: u32, _nid: Option<i32>, _usage: PageUse) -> Result<Pfn> {
        if order == 0 {
            if let Some(pfn) = self.recycled.pop() {
                self.in_use += 1;
                return Ok(pfn);
            }
        }
        let n = 1u64 << order.min(40);
        let start = self.next.div_ceil(n) * n;
        match start.checked_add(n) {
            Some(end) if end <= self.limit => {
                self.next = end;
                self.in_use += n;
                Ok(start)
            }
            _ => Err(crate::MmError::OutOfMemory { request: format!("order-{order} page from a bump source") }),
        }
    }

    fn free_pages(&mut self, pfn: Pfn, order: u32, _usage: PageUse) -> Result<()> {
        let n = 1u64 << order.min(40);
        for p in pfn..pfn + n {
            self.recycled.push(p);
        }
        self.in_use = self.in_use.saturating_sub(n);
        Ok(())
    }
}
