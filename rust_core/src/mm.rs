//! `Mm`: the whole simulated memory of one machine.
//!
//! It owns memblock and, once `free_area_init` has run, the nodes and zones
//! with their buddy allocator. Bindings and benches hold one `Mm` per
//! simulated machine. The boot hands memory from one to the other here:
//! [`Mm::memblock_free_all`] walks memblock's free ranges into the buddy
//! allocator, as mm/memblock.c does.

use crate::error::{MmError, Result};
use crate::memblock::{KernelVersion, Memblock, MemblockFlags, NUMA_NO_NODE};
use crate::page_alloc::{free_area_init, FreeAreaInitInput, PageAlloc, PageAllocConfig, ZoneLayout};
use crate::units::{pfn_down, pfn_up, Pfn};

/// The simulated memory of one machine.
#[derive(Default)]
pub struct Mm {
    /// The boot-time allocator.
    pub memblock: Memblock,
    /// Nodes, zones and the buddy allocator, from `free_area_init` on.
    pub page_alloc: Option<PageAlloc>,
}

impl Mm {
    /// A machine with no memory yet, for the given kernel version.
    pub fn new(version: KernelVersion) -> Self {
        Mm { memblock: Memblock::with_version(version), page_alloc: None }
    }

    /// An independent copy (a fork of the machine).
    pub fn try_clone(&self) -> Result<Mm> {
        if self.page_alloc.is_some() {
            return Err(MmError::InvalidState(
                "copying a machine after free_area_init is not supported yet".into(),
            ));
        }
        Ok(Mm { memblock: self.memblock.clone(), page_alloc: None })
    }

    /// The buddy allocator, or an error naming the missing boot step.
    pub fn buddy(&self) -> Result<&PageAlloc> {
        self.page_alloc.as_ref().ok_or_else(not_yet)
    }

    /// Mutable access to the buddy allocator.
    pub fn buddy_mut(&mut self) -> Result<&mut PageAlloc> {
        self.page_alloc.as_mut().ok_or_else(not_yet)
    }

    /// `free_area_init`: compute the node and zone layout from `input` and
    /// build the (still empty) buddy allocator. Runs once per boot.
    pub fn free_area_init(&mut self, input: &FreeAreaInitInput, cfg: &PageAllocConfig) -> Result<&ZoneLayout> {
        if self.page_alloc.is_some() {
            return Err(MmError::InvalidState("free_area_init has already run on this machine".into()));
        }
        let layout = free_area_init(input, cfg)?;
        let pa = PageAlloc::new(&layout, cfg)?;
        Ok(self.page_alloc.insert(pa).layout())
    }

    /// memblock's free ranges as `(start_pfn, end_pfn, nid)`, whole pages
    /// only, capped at `max_low_pfn` (`free_low_memory_core_early`).
    pub fn free_pfn_ranges(&self, max_low_pfn: Option<Pfn>, nr_nodes: u32) -> Vec<(Pfn, Pfn, u32)> {
        let cap = max_low_pfn.unwrap_or(Pfn::MAX);
        self.memblock
            .free_mem_ranges(NUMA_NO_NODE, MemblockFlags::NONE)
            .into_iter()
            .filter_map(|r| {
                let start = pfn_up(r.start);
                let end = pfn_down(r.end).min(cap);
                let nid = if r.nid >= 0 && (r.nid as u32) < nr_nodes { r.nid as u32 } else { 0 };
                (start < end).then_some((start, end, nid))
            })
            .collect()
    }

    /// `memblock_free_all`: every free memblock page goes to the buddy
    /// allocator (deferred pages are counted but freed later). Returns the
    /// pages counted into `totalram_pages`.
    pub fn memblock_free_all(&mut self, max_low_pfn: Option<Pfn>) -> Result<u64> {
        let nr_nodes = self.buddy()?.nr_nodes();
        let ranges = self.free_pfn_ranges(max_low_pfn, nr_nodes);
        self.buddy_mut()?.memblock_free_all(&ranges)
    }

    /// `page_alloc_init_late`: free the deferred struct pages, from the
    /// free ranges memblock has now.
    pub fn page_alloc_init_late(&mut self) -> Result<u64> {
        let nr_nodes = self.buddy()?.nr_nodes();
        let ranges = self.free_pfn_ranges(None, nr_nodes);
        self.buddy_mut()?.page_alloc_init_late(&ranges)
    }
}

fn not_yet() -> MmError {
    MmError::InvalidState("the zones do not exist yet: free_area_init has not run".into())
}
