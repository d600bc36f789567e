//! `Mm`: the whole simulated memory of one machine.
//!
//! It owns memblock and, once `free_area_init` has run, the nodes and zones
//! with their buddy allocator. Bindings and benches hold one `Mm` per
//! simulated machine. The boot hands memory from one to the other here:
//! [`Mm::memblock_free_all`] walks memblock's free ranges into the buddy
//! allocator, as mm/memblock.c does.

use crate::error::{MmError, Result};
use crate::page_alloc::Gfp;
use crate::page_source::{PageSource, PageUse};
use crate::memblock::{KernelVersion, Memblock, MemblockFlags, NUMA_NO_NODE};
use crate::page_alloc::{free_area_init, FreeAreaInitInput, PageAlloc, PageAllocConfig, ZoneLayout};
use crate::units::{pfn_down, pfn_up, Pfn};

/// Pages the kernel's own structures hold, by use (the /proc/meminfo
/// `PageTables`, `SReclaimable`, `SUnreclaim` and `VmallocUsed` counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCounters {
    pub page_tables: u64,
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
    pub vmalloc: u64,
}

impl UsageCounters {
    fn slot(&mut self, usage: PageUse) -> &mut u64 {
        match usage {
            PageUse::PageTable => &mut self.page_tables,
            PageUse::SlabReclaimable => &mut self.slab_reclaimable,
            PageUse::SlabUnreclaimable => &mut self.slab_unreclaimable,
            PageUse::Vmalloc => &mut self.vmalloc,
        }
    }
}

/// The buddy allocator as a [`PageSource`]: the pages page tables, slabs
/// and vmalloc areas take come from the zones and are counted by use.
pub struct BuddySource<'a> {
    pub page_alloc: &'a mut PageAlloc,
    pub usage: &'a mut UsageCounters,
    pub cpu: u32,
}

impl PageSource for BuddySource<'_> {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: PageUse) -> Result<Pfn> {
        let gfp = match usage {
            PageUse::SlabReclaimable => Gfp(Gfp::GFP_KERNEL.0 | Gfp::__GFP_RECLAIMABLE.0),
            _ => Gfp::GFP_KERNEL,
        };
        let nid = nid.filter(|&n| n >= 0).map_or(0, |n| n as u32);
        let pfn = self.page_alloc.alloc_pages(gfp, order, nid, self.cpu)?;
        *self.usage.slot(usage) += 1 << order;
        Ok(pfn)
    }

    fn free_pages(&mut self, pfn: Pfn, order: u32, usage: PageUse) -> Result<()> {
        self.page_alloc.free_pages(pfn, order, self.cpu)?;
        let slot = self.usage.slot(usage);
        *slot = slot.saturating_sub(1 << order);
        Ok(())
    }
}

/// The simulated memory of one machine.
#[derive(Default)]
pub struct Mm {
    /// The boot-time allocator.
    pub memblock: Memblock,
    /// Nodes, zones and the buddy allocator, from `free_area_init` on.
    pub page_alloc: Option<PageAlloc>,
    /// Pages held by page tables, slabs and vmalloc areas.
    pub usage: UsageCounters,
}

impl Mm {
    /// A machine with no memory yet, for the given kernel version.
    pub fn new(version: KernelVersion) -> Self {
        Mm { memblock: Memblock::with_version(version), page_alloc: None, usage: UsageCounters::default() }
    }

    /// An independent copy (a fork of the machine).
    pub fn try_clone(&self) -> Result<Mm> {
        if self.page_alloc.is_some() {
            return Err(MmError::InvalidState(
                "copying a machine after free_area_init is not supported yet".into(),
            ));
        }
        Ok(Mm { memblock: self.memblock.clone(), page_alloc: None, usage: self.usage })
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

impl Mm {
    /// The buddy allocator as a page source for the kernel's own structures.
    pub fn buddy_source(&mut self, cpu: u32) -> Result<BuddySource<'_>> {
        let page_alloc = self.page_alloc.as_mut().ok_or_else(not_yet)?;
        Ok(BuddySource { page_alloc, usage: &mut self.usage, cpu })
    }
}

fn not_yet() -> MmError {
    MmError::InvalidState("the zones do not exist yet: free_area_init has not run".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page_alloc::{MovableZoneConfig, ZoneType};

    fn booted() -> Mm {
        let mut mm = Mm::new(KernelVersion::V6_1);
        mm.memblock.add(1 << 20, 63 << 20, "test").unwrap();
        mm.memblock.reserve(1 << 20, 1 << 20, "test").unwrap();
        let regions = vec![(0x100, 0x4000, 0)];
        let input = FreeAreaInitInput {
            regions,
            zones: vec![(ZoneType::Dma, 0x1000), (ZoneType::Dma32, 0x4000), (ZoneType::Normal, 0x4000)],
            nr_nodes: 1,
            movable: MovableZoneConfig::default(),
            dma_reserve: 0,
        };
        let cfg = PageAllocConfig { deferred_struct_page_init: false, ..PageAllocConfig::linux_6_1() };
        mm.free_area_init(&input, &cfg).unwrap();
        mm.memblock_free_all(None).unwrap();
        mm
    }

    #[test]
    fn memblock_free_all_frees_what_memblock_has_free() {
        let mm = booted();
        // 63 MiB of memory from 1 MiB, 1 MiB of it reserved
        assert_eq!(mm.buddy().unwrap().totalram_pages(), (62 << 20) >> 12);
    }

    #[test]
    fn free_area_init_runs_once() {
        let mut mm = booted();
        let input = FreeAreaInitInput::x86_64(vec![(0x100, 0x4000, 0)], 0);
        let err = mm.free_area_init(&input, &PageAllocConfig::default()).unwrap_err();
        assert!(matches!(err, MmError::InvalidState(_)));
    }

    #[test]
    fn buddy_source_counts_pages_by_use() {
        let mut mm = booted();
        let free = mm.buddy().unwrap().nr_free_pages();
        let mut src = mm.buddy_source(0).unwrap();
        let a = src.alloc_pages(0, None, PageUse::PageTable).unwrap();
        let b = src.alloc_pages(2, Some(0), PageUse::SlabReclaimable).unwrap();
        assert_eq!(mm.usage.page_tables, 1);
        assert_eq!(mm.usage.slab_reclaimable, 4);
        let mut src = mm.buddy_source(0).unwrap();
        src.free_pages(a, 0, PageUse::PageTable).unwrap();
        src.free_pages(b, 2, PageUse::SlabReclaimable).unwrap();
        assert_eq!(mm.usage, UsageCounters::default());
        mm.buddy_mut().unwrap().drain_pcp(None).unwrap();
        assert_eq!(mm.buddy().unwrap().nr_free_pages(), free);
    }

    #[test]
    fn no_zones_no_source() {
        let mut mm = Mm::new(KernelVersion::V5_14);
        assert!(matches!(mm.buddy_source(0), Err(MmError::InvalidState(_))));
    }
}
