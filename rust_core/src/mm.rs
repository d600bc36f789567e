//! `Mm`: the whole simulated memory of one machine.
//!
//! It owns memblock and, once `free_area_init` has run, the nodes and zones
//! with their buddy allocator. Bindings and benches hold one `Mm` per
//! simulated machine. The boot hands memory from one to the other here:
//! [`Mm::memblock_free_all`] walks memblock's free ranges into the buddy
//! allocator, as mm/memblock.c does.

use crate::error::{MmError, Result};
use crate::page_alloc::Gfp;
use crate::pagetable::direct_map::MapRange;
use crate::slab::{SlabAllocator, SlabConfig};
use crate::vmalloc::VmallocSpace;
use crate::pagetable::{LeafCounts, PageSizePolicy, PageTable, PageTableFormat, PteFlags};
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

/// The gfp mask the buddy source allocates `usage` with.
fn usage_gfp(usage: PageUse) -> Gfp {
    match usage {
        PageUse::SlabReclaimable => Gfp(Gfp::GFP_KERNEL.0 | Gfp::__GFP_RECLAIMABLE.0),
        _ => Gfp::GFP_KERNEL,
    }
}

impl PageSource for BuddySource<'_> {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, usage: PageUse) -> Result<Pfn> {
        let gfp = usage_gfp(usage);
        let pfn = match nid.filter(|&n| n >= 0) {
            Some(n) => self.page_alloc.alloc_pages(gfp, order, n as u32, self.cpu)?,
            None => self.page_alloc.alloc_pages_policy(gfp, order, self.cpu)?,
        };
        *self.usage.slot(usage) += 1 << order;
        Ok(pfn)
    }

    fn alloc_pages_bulk(&mut self, count: usize, nid: Option<i32>, usage: PageUse, out: &mut Vec<Pfn>) -> Result<usize> {
        let gfp = usage_gfp(usage);
        let n = match nid.filter(|&n| n >= 0) {
            Some(n) => self.page_alloc.alloc_pages_bulk(gfp, 0, count, n as u32, self.cpu, out)?,
            None => self.page_alloc.alloc_pages_bulk_policy(gfp, 0, count, self.cpu, out)?,
        };
        *self.usage.slot(usage) += n as u64;
        Ok(n)
    }

    fn free_pages(&mut self, pfn: Pfn, order: u32, usage: PageUse) -> Result<()> {
        self.page_alloc.free_pages(pfn, order, self.cpu)?;
        let slot = self.usage.slot(usage);
        *slot = slot.saturating_sub(1 << order);
        Ok(())
    }

    fn mempolicy_slab_node(&mut self) {
        self.page_alloc.policy_node(self.cpu);
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
    /// The kernel's page table (init_mm): the direct map, then vmalloc.
    pub kernel_pagetable: Option<PageTable>,
    /// Pages set aside for early page tables (x86's brk buffer), used
    /// before memblock.
    pub early_pgt_pool: Vec<Pfn>,
    /// SLUB, from `kmem_cache_init` on.
    pub slab: Option<SlabAllocator>,
    /// The vmalloc space, from `vmalloc_init` on.
    pub vmalloc: Option<VmallocSpace>,
    /// `after_bootmem`: memblock has handed its memory to the buddy
    /// allocator, so new kernel page tables come from there, no longer
    /// from memblock.
    pub after_bootmem: bool,
}

/// Where the page tables of one early mapping call come from, as the
/// architecture decides it (x86's `alloc_low_pages` with `can_use_brk_pgt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyTables {
    /// Take pages from the early pool while it lasts.
    pub use_pool: bool,
    /// Physical `[start, end)` memblock may give table pages from (top-down);
    /// `None`: anywhere below the end of memory.
    pub range: Option<(u64, u64)>,
    /// Take each table with `memblock_alloc` (x86's `spp_getpage`), not
    /// from the pool or `range`.
    pub memblock_alloc: bool,
}

impl Default for EarlyTables {
    fn default() -> Self {
        EarlyTables { use_pool: true, range: None, memblock_alloc: false }
    }
}

impl EarlyTables {
    /// `alloc_low_pages`' rule: the early pool (if `use_pool`), then
    /// memblock top-down within `range`.
    pub fn low_pages(use_pool: bool, range: Option<(u64, u64)>) -> Self {
        EarlyTables { use_pool, range, memblock_alloc: false }
    }

    /// `spp_getpage`'s rule: each table a `memblock_alloc` of a page.
    pub fn spp_getpage() -> Self {
        EarlyTables { use_pool: false, range: None, memblock_alloc: true }
    }
}

/// Page-table pages during boot: from the architecture's early pool (already
/// reserved), then from memblock, top-down, like `alloc_low_pages`. They
/// are reserved memory, not the `PageTables` of /proc/meminfo.
pub struct BootPageSource<'a> {
    pub pool: &'a mut Vec<Pfn>,
    pub memblock: &'a mut Memblock,
    pub rule: EarlyTables,
}

impl PageSource for BootPageSource<'_> {
    fn alloc_pages(&mut self, order: u32, nid: Option<i32>, _usage: PageUse) -> Result<Pfn> {
        let _ = nid;
        if order == 0 && self.rule.use_pool {
            if let Some(pfn) = self.pool.pop() {
                return Ok(pfn);
            }
        }
        // like alloc_low_pages: mapped memory, top-down (5.14 finds the
        // range and reserves it, later kernels allocate it in one call)
        let size = crate::units::PAGE_SIZE << order;
        if self.rule.memblock_alloc {
            return Ok(pfn_down(self.memblock.alloc(size, crate::units::PAGE_SIZE, "spp_getpage")?));
        }
        let (start, end) = self.rule.range.unwrap_or((0, self.memblock.end_of_dram()));
        let addr = if self.memblock.version() == KernelVersion::V5_14 {
            let addr = self.memblock.find_in_range(start, end, size, crate::units::PAGE_SIZE).ok_or_else(|| {
                MmError::OutOfMemory { request: format!("{size} bytes for page tables in [{start:#x}, {end:#x})") }
            })?;
            self.memblock.reserve(addr, size, "alloc_low_pages")?;
            addr
        } else {
            self.memblock.phys_alloc_range(size, crate::units::PAGE_SIZE, start, end, "alloc_low_pages")?
        };
        Ok(pfn_down(addr))
    }

    /// Early page-table pages stay reserved (as in the kernel, where freed
    /// early tables are not handed back to memblock): they rejoin the pool.
    fn free_pages(&mut self, pfn: Pfn, order: u32, _usage: PageUse) -> Result<()> {
        self.pool.extend(pfn..pfn + (1u64 << order));
        Ok(())
    }
}

/// Table pages must be addressable by the format's entries.
fn check_table_pfns(format: &PageTableFormat, pfns: &[Pfn]) -> Result<()> {
    let limit = 1u64 << format.phys_bits.saturating_sub(crate::units::PAGE_SHIFT).min(63);
    match pfns.iter().find(|&&p| p >= limit) {
        Some(&p) => Err(MmError::OutOfRange { what: "table pfn", value: p, min: 0, max: limit }),
        None => Ok(()),
    }
}

/// Pages the kernel image holds statically for its tables (the root page
/// table, the high mapping's tables): handed out in order, never taken back.
struct StaticPages(Vec<Pfn>);

impl PageSource for StaticPages {
    fn alloc_pages(&mut self, order: u32, _nid: Option<i32>, _usage: PageUse) -> Result<Pfn> {
        if order != 0 || self.0.is_empty() {
            return Err(MmError::invalid("table_pfns", "too few static page-table pages for this mapping"));
        }
        Ok(self.0.remove(0))
    }

    fn free_pages(&mut self, _pfn: Pfn, _order: u32, _usage: PageUse) -> Result<()> {
        Ok(())
    }
}

impl Mm {
    /// A machine with no memory yet, for the given kernel version.
    pub fn new(version: KernelVersion) -> Self {
        Mm {
            memblock: Memblock::with_version(version),
            page_alloc: None,
            usage: UsageCounters::default(),
            kernel_pagetable: None,
            early_pgt_pool: Vec::new(),
            slab: None,
            vmalloc: None,
            after_bootmem: false,
        }
    }

    /// An independent copy (a fork of the machine).
    pub fn try_clone(&self) -> Result<Mm> {
        if self.page_alloc.is_some() {
            return Err(MmError::InvalidState(
                "copying a machine after free_area_init is not supported yet".into(),
            ));
        }
        Ok(Mm {
            memblock: self.memblock.clone(),
            page_alloc: None,
            usage: self.usage,
            kernel_pagetable: self.kernel_pagetable.clone(),
            early_pgt_pool: self.early_pgt_pool.clone(),
            slab: None,
            vmalloc: None,
            after_bootmem: false,
        })
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
        // free_low_memory_core_early: hotpluggable memory is freed like the
        // rest (movable_node only kept memblock's own allocations off it)
        self.memblock.clear_hotplug(0, u64::MAX)?;
        let ranges = self.free_pfn_ranges(max_low_pfn, nr_nodes);
        let freed = self.buddy_mut()?.memblock_free_all(&ranges)?;
        self.after_bootmem = true;
        Ok(freed)
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
    /// Run `f` on the kernel page table with the page source of this point
    /// of the boot: the buddy allocator once it exists, else the early pool
    /// and memblock.
    pub fn with_kernel_pagetable<T>(
        &mut self,
        f: impl FnOnce(&mut PageTable, &mut dyn PageSource) -> Result<T>,
    ) -> Result<T> {
        self.with_kernel_pagetable_rule(EarlyTables::default(), f)
    }

    /// `alloc_low_pages` for pages that are not the kernel page table's own
    /// tables (x86's KASLR trampoline tables): from the early pool while it
    /// lasts, then memblock, top-down.
    pub fn alloc_low_pages(&mut self, count: usize) -> Result<Vec<Pfn>> {
        let Mm { memblock, early_pgt_pool, .. } = self;
        let mut src = BootPageSource { pool: early_pgt_pool, memblock, rule: EarlyTables::default() };
        (0..count).map(|_| src.alloc_pages(0, None, PageUse::PageTable)).collect()
    }

    /// The kernel page table, or `InvalidState` before it is created.
    pub fn kernel_pt(&self) -> Result<&PageTable> {
        self.kernel_pagetable.as_ref().ok_or_else(no_kernel_pagetable)
    }

    /// [`Mm::with_kernel_pagetable`], with early tables taken as `early` says.
    pub fn with_kernel_pagetable_rule<T>(
        &mut self,
        early: EarlyTables,
        f: impl FnOnce(&mut PageTable, &mut dyn PageSource) -> Result<T>,
    ) -> Result<T> {
        let Mm { memblock, page_alloc, usage, kernel_pagetable, early_pgt_pool, after_bootmem, .. } = self;
        let pt = kernel_pagetable.as_mut().ok_or_else(no_kernel_pagetable)?;
        match page_alloc {
            Some(pa) if *after_bootmem => f(pt, &mut BuddySource { page_alloc: pa, usage, cpu: 0 }),
            _ => f(pt, &mut BootPageSource { pool: early_pgt_pool, memblock, rule: early }),
        }
    }

    /// Create the kernel page table in `format`: its root in the page
    /// `root` when the image holds it statically (x86's `init_top_pgt`),
    /// else from the early pool (or the buddy allocator after boot).
    pub fn init_kernel_pagetable(&mut self, format: PageTableFormat, root: Option<Pfn>) -> Result<()> {
        if self.kernel_pagetable.is_some() {
            return Err(MmError::InvalidState("the kernel page table exists already".into()));
        }
        if let Some(pfn) = root {
            check_table_pfns(&format, &[pfn])?;
        }
        let Mm { memblock, page_alloc, usage, early_pgt_pool, .. } = self;
        let pt = match (root, page_alloc) {
            (Some(pfn), _) => PageTable::new(format, &mut StaticPages(vec![pfn]))?,
            (None, Some(pa)) => PageTable::new(format, &mut BuddySource { page_alloc: pa, usage, cpu: 0 })?,
            (None, None) => PageTable::new(
                format,
                &mut BootPageSource { pool: early_pgt_pool, memblock, rule: EarlyTables::default() },
            )?,
        };
        self.kernel_pagetable = Some(pt);
        Ok(())
    }

    /// `init_memory_mapping`: map physical `[start, end)` at `page_offset`
    /// with the page sizes of `page_size_mask` where memblock memory allows;
    /// before the buddy allocator exists its tables come as `early` says.
    pub fn init_memory_mapping(
        &mut self,
        start: u64,
        end: u64,
        page_size_mask: u32,
        page_offset: u64,
        early: EarlyTables,
    ) -> Result<Vec<MapRange>> {
        let ram: Vec<(u64, u64)> = self.memblock.memory().regions().iter().map(|r| (r.base, r.end())).collect();
        self.with_kernel_pagetable_rule(early, |pt, src| {
            pt.init_memory_mapping(src, start, end, page_size_mask, &ram, page_offset, PteFlags::PAGE_KERNEL)
        })
    }

    /// Map `[virt, virt+len)` to `phys` in the kernel page table.
    pub fn kernel_map_range(&mut self, virt: u64, phys: u64, len: u64, flags: PteFlags, policy: PageSizePolicy) -> Result<()> {
        self.with_kernel_pagetable(|pt, src| pt.map_range(src, virt, phys, len, flags, policy))
    }

    /// Map `[virt, virt+len)` to `phys` in the kernel page table with tables
    /// the image holds statically (`table_pfns`, used in order): nothing is
    /// allocated. x86's high kernel mapping is built this way.
    pub fn kernel_map_static(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        flags: PteFlags,
        policy: PageSizePolicy,
        table_pfns: Vec<Pfn>,
    ) -> Result<()> {
        let pt = self
            .kernel_pagetable
            .as_mut()
            .ok_or_else(no_kernel_pagetable)?;
        check_table_pfns(pt.format(), &table_pfns)?;
        pt.map_range(&mut StaticPages(table_pfns), virt, phys, len, flags, policy)
    }

    /// `change_page_attr` on the kernel page table: set and clear flags
    /// over `[virt, virt+len)`, splitting huge pages only where the change
    /// needs it (with `account`, splits are counted in the direct-map
    /// counters); returns how many leaves changed.
    pub fn kernel_change_attr(&mut self, virt: u64, len: u64, set: PteFlags, clear: PteFlags, account: bool) -> Result<u64> {
        self.with_kernel_pagetable(|pt, src| pt.change_attr(src, virt, len, set, clear, account))
    }

    /// `set_memory_np` on the kernel page table: the range stops being
    /// present, its tables stay (see [`PageTable::set_not_present`]).
    pub fn kernel_set_not_present(&mut self, virt: u64, len: u64, account: bool) -> Result<u64> {
        self.with_kernel_pagetable(|pt, src| pt.set_not_present(src, virt, len, account))
    }

    /// Unmap `[virt, virt+len)` from the kernel page table.
    pub fn kernel_unmap_range(&mut self, virt: u64, len: u64) -> Result<()> {
        self.with_kernel_pagetable(|pt, src| pt.unmap_range(src, virt, len))
    }

    /// Leaves of the kernel page table in `[virt, virt+len)`, by page size.
    pub fn kernel_leaf_counts(&self, virt: u64, len: u64) -> Result<LeafCounts> {
        self.kernel_pagetable
            .as_ref()
            .ok_or_else(no_kernel_pagetable)?
            .leaf_counts(virt, len)
    }

    /// `kmem_cache_init`: bring SLUB up, its slabs from the buddy allocator.
    pub fn kmem_cache_init(&mut self, config: SlabConfig) -> Result<()> {
        if self.slab.is_some() {
            return Err(MmError::InvalidState("kmem_cache_init has already run".into()));
        }
        let slab = SlabAllocator::new(config, &mut self.buddy_source(0)?)?;
        self.slab = Some(slab);
        Ok(())
    }

    /// Run `f` on SLUB as seen from `cpu` (its cpu slabs and partial
    /// lists) with the buddy allocator as its page source.
    pub fn with_slab<T>(&mut self, cpu: u32, f: impl FnOnce(&mut SlabAllocator, &mut dyn PageSource) -> Result<T>) -> Result<T> {
        let Mm { page_alloc, usage, slab, .. } = self;
        let slab = slab.as_mut().ok_or_else(|| MmError::InvalidState("SLUB is not up yet: kmem_cache_init has not run".into()))?;
        let page_alloc = page_alloc.as_mut().ok_or_else(not_yet)?;
        slab.set_cpu(cpu)?;
        f(slab, &mut BuddySource { page_alloc, usage, cpu })
    }

    /// `vmalloc_init`: the vmalloc space becomes usable; its pages come from
    /// the buddy allocator and are mapped in the kernel page table.
    pub fn vmalloc_init(&mut self, mut space: VmallocSpace) -> Result<()> {
        if self.vmalloc.is_some() {
            return Err(MmError::InvalidState("vmalloc_init has already run".into()));
        }
        if self.kernel_pagetable.is_none() {
            return Err(MmError::InvalidState("vmalloc needs the kernel page table".into()));
        }
        let nodes = self.memblock.mem_pfn_ranges(self.memblock.max_numnodes());
        let no_node = self.memblock.max_numnodes();
        space.set_node_map(nodes.iter().map(|r| (r.start_pfn, r.end_pfn, if r.nid == no_node { 0 } else { r.nid })).collect());
        space.set_totalram_pages(self.page_alloc.as_ref().map(|p| p.totalram_pages()));
        self.vmalloc = Some(space);
        Ok(())
    }

    /// Run `f` on the vmalloc space with the kernel page table and the buddy
    /// allocator as its page source.
    pub fn with_vmalloc<T>(
        &mut self,
        f: impl FnOnce(&mut VmallocSpace, &mut PageTable, &mut dyn PageSource) -> Result<T>,
    ) -> Result<T> {
        let Mm { page_alloc, usage, kernel_pagetable, vmalloc, .. } = self;
        let space = vmalloc
            .as_mut()
            .ok_or_else(|| MmError::InvalidState("the vmalloc space is not up yet: vmalloc_init has not run".into()))?;
        let pt = kernel_pagetable
            .as_mut()
            .ok_or_else(no_kernel_pagetable)?;
        let page_alloc = page_alloc.as_mut().ok_or_else(not_yet)?;
        f(space, pt, &mut BuddySource { page_alloc, usage, cpu: 0 })
    }

    /// The buddy allocator as a page source for the kernel's own structures.
    pub fn buddy_source(&mut self, cpu: u32) -> Result<BuddySource<'_>> {
        let page_alloc = self.page_alloc.as_mut().ok_or_else(not_yet)?;
        Ok(BuddySource { page_alloc, usage: &mut self.usage, cpu })
    }
}

fn no_kernel_pagetable() -> MmError {
    MmError::InvalidState("the kernel page table does not exist yet".into())
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
        zones_of_64m(&mut mm);
        mm.memblock_free_all(None).unwrap();
        mm
    }

    /// `free_area_init` of 1..64 MiB: DMA and DMA32, no deferred pages.
    fn zones_of_64m(mm: &mut Mm) {
        let input = FreeAreaInitInput {
            regions: vec![(0x100, 0x4000, 0)],
            zones: vec![(ZoneType::Dma, 0x1000), (ZoneType::Dma32, 0x4000), (ZoneType::Normal, 0x4000)],
            nr_nodes: 1,
            movable: MovableZoneConfig::default(),
            dma_reserve: 0,
        };
        let cfg = PageAllocConfig { deferred_struct_page_init: false, ..PageAllocConfig::linux_6_1() };
        mm.free_area_init(&input, &cfg).unwrap();
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
    fn kernel_tables_come_from_memblock_until_memblock_free_all() {
        use crate::pagetable::PageTableFormat;
        let mut mm = Mm::new(KernelVersion::V6_1);
        mm.memblock.add(1 << 20, 63 << 20, "test").unwrap();
        mm.init_kernel_pagetable(PageTableFormat::preset("x86_64_4level").unwrap(), Some(0x100)).unwrap();
        zones_of_64m(&mut mm);
        // zones exist but the buddy allocator is still empty: spp_getpage's
        // rule takes a memblock page for each of the pud, pmd and pte tables
        let before = mm.memblock.reserved().total_size();
        let vmalloc_start = 0xffff_c900_0000_0000u64;
        mm.with_kernel_pagetable_rule(EarlyTables::spp_getpage(), |pt, src| {
            pt.map_batch(src, &[(vmalloc_start, 0x200_0000, 4096)], PteFlags::PAGE_KERNEL)
        })
        .unwrap();
        assert_eq!(mm.memblock.reserved().total_size() - before, 3 * 4096);
        assert!(!mm.after_bootmem);
        mm.memblock_free_all(None).unwrap();
        assert!(mm.after_bootmem);
        // from now on new tables come from the buddy allocator
        let free = mm.buddy().unwrap().nr_free_pages();
        mm.with_kernel_pagetable(|pt, src| {
            pt.map_batch(src, &[(vmalloc_start + (1 << 30), 0x200_0000, 4096)], PteFlags::PAGE_KERNEL)
        })
        .unwrap();
        assert_eq!(free - mm.buddy().unwrap().nr_free_pages(), 2);
    }

    #[test]
    fn no_zones_no_source() {
        let mut mm = Mm::new(KernelVersion::V5_14);
        assert!(matches!(mm.buddy_source(0), Err(MmError::InvalidState(_))));
    }
}
