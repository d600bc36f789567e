//! The vmalloc space (mm/vmalloc.c): virtually contiguous kernel areas in
//! `[VMALLOC_START, VMALLOC_END)`, backed by pages from a [`PageSource`](crate::page_source::PageSource)
//! and mapped through the [`PageTable`](crate::pagetable::PageTable) engine.
//!
//! * [`VmallocSpace`] keeps the busy areas (`vmap_area_root`: a `BTreeMap`
//!   by start address, so [`VmallocSpace::find_vmap_area`] is O(log n)) and
//!   the free space (`free_vmap_area_root`: [`FreeTree`], an AVL tree of
//!   free extents augmented with "subtree_max_size", giving the
//!   lowest-address fit in O(log n)).
//! * Areas are reserved like `__get_vm_area_node()`: size rounded to pages
//!   (to the mapping size for huge areas), plus a trailing guard page unless
//!   [`VmFlags::VM_NO_GUARD`], at the lowest address that fits the
//!   alignment.
//! * [`VmallocSpace::vmalloc`] and friends take order-0 pages one by one
//!   ([`PageUse::Vmalloc`](crate::page_source::PageUse::Vmalloc)), or PMD-size pages for
//!   [`VmallocSpace::vmalloc_huge`] (6.1; 5.14 had no huge vmalloc on x86 and
//!   falls back to base pages, as 6.1 does when huge pages run out), and map
//!   them with kernel protections (`PAGE_KERNEL`). A page array bigger than
//!   a page is itself vmalloc'ed, as the kernel does ("vpages").
//! * Every call that fails has changed nothing: pages taken are given back,
//!   mappings made are removed, the reservation is released.
//! * Frees are immediate (no lazy purge). Errors of a free name the
//!   address: kind NotAllocated for an address that starts no area, kind
//!   DoubleFree for one whose area was freed already.
//! * Complexity (n busy areas, m free extents): reservation O(log m) (see
//!   [`FreeTree::find_lowest`] for alignments above a page) plus O(log n)
//!   to index the area; freeing O(log n + log m); mapping and unmapping
//!   are linear in the pages.
//! * The page table and the page source are passed to each call, so one
//!   kernel page table (direct map, vmalloc, ...) can be shared; use the
//!   same ones for the whole life of the space.
//!
//! ```
//! use mmsvc_core::page_source::BumpPageSource;
//! use mmsvc_core::pagetable::{PageTable, PageTableFormat};
//! use mmsvc_core::vmalloc::VmallocSpace;
//!
//! let mut src = BumpPageSource::new(0x1000, 0x10_0000);
//! let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
//! let mut vs = VmallocSpace::x86_64_4level();
//! let a = vs.vmalloc(&mut pt, &mut src, 3 * 4096, 1, "kernel_clone+0xbf/0x430").unwrap();
//! assert_eq!(a, 0xffff_c900_0000_0000);
//! assert_eq!(vs.find_vmap_area(a + 3 * 4096).unwrap().va_end, a + 4 * 4096); // guard page
//! assert!(vs.vmalloc_to_pfn(&pt, a).is_ok());
//! assert_eq!(vs.vmalloc_used_kb(), 12);
//! vs.vfree(&mut pt, &mut src, a).unwrap();
//! // only the page tables are left: like the kernel, vfree keeps them
//! assert_eq!((vs.nr_areas(), src.in_use), (0, pt.page_table_pages()));
//! ```

mod alloc;
mod area;
mod busy;
mod events;
mod info;
mod tree;

#[cfg(test)]
mod tests;

pub use area::{VmFlags, VmStruct, VmapArea};
pub use events::{VmallocEvent, VmallocEventKind};
pub use alloc::VmallocRequest;
pub use info::VmallocMeminfo;
pub use tree::FreeTree;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::error::{MmError, Result};
use crate::memblock::KernelVersion;
use crate::units::{Pfn, PAGE_SIZE};
use busy::Busy;
use events::Recorder;

/// x86_64 `VMALLOC_START` with 4-level paging (no KASLR).
pub const X86_64_VMALLOC_START_L4: u64 = 0xffff_c900_0000_0000;
/// x86_64 `VMALLOC_SIZE_TB` with 4-level paging.
pub const X86_64_VMALLOC_SIZE_TB_L4: u64 = 32;
/// x86_64 `VMALLOC_START` with 5-level paging (no KASLR).
pub const X86_64_VMALLOC_START_L5: u64 = 0xffa0_0000_0000_0000;
/// x86_64 `VMALLOC_SIZE_TB` with 5-level paging.
pub const X86_64_VMALLOC_SIZE_TB_L5: u64 = 12800;
/// `PMD_SIZE`: the huge vmalloc page.
pub const PMD_SIZE: u64 = 1 << 21;
/// x86_64 `IOREMAP_MAX_ORDER` (`PUD_SHIFT`): largest ioremap alignment.
pub const IOREMAP_MAX_ORDER: u32 = 30;
/// Freed area starts remembered to tell a double free from a wild one.
const FREED_MEMORY: usize = 1 << 16;

/// The vmalloc space of one kernel; see the module documentation.
#[derive(Debug, Clone)]
pub struct VmallocSpace {
    start: u64,
    end: u64,
    version: KernelVersion,
    /// `vmap_area_root`: busy areas by start.
    busy: Busy,
    /// `free_vmap_area_root`.
    free: FreeTree,
    /// `nr_vmalloc_pages`: base pages held by vmalloc areas.
    nr_vmalloc_pages: u64,
    /// Caller names, interned.
    callers: HashMap<Box<str>, Arc<str>>,
    /// The last caller interned (most calls repeat it).
    last_caller: Option<Arc<str>>,
    /// Starts of areas freed since (and not the start of an area again),
    /// for DoubleFree.
    freed: HashSet<u64, BuildHasherDefault<AddrHasher>>,
    /// `(first pfn, end pfn, nid)` of each node's memory, sorted; pages
    /// outside count as node 0.
    node_map: Vec<(Pfn, Pfn, i32)>,
    recorder: Recorder,
    /// `totalram_pages()`, when known: larger requests fail at once.
    totalram_pages: Option<u64>,
    /// Further ranges areas may be placed in when a request names them
    /// (x86's module space, `[MODULES_VADDR, MODULES_END)`).
    extra_ranges: Vec<(u64, u64)>,
}

impl VmallocSpace {
    /// The space `[start, end)`: `start` page aligned, room for at least
    /// one page and its guard. As in the kernel, `end` may be the inclusive
    /// `VMALLOC_END` (the last page is then never handed out).
    pub fn new(start: u64, end: u64) -> Result<Self> {
        if start % PAGE_SIZE != 0 {
            return Err(MmError::invalid("start", format!("{start:#x} is not page aligned")));
        }
        if end <= start || end - start < 2 * PAGE_SIZE {
            return Err(MmError::invalid("end", format!("[{start:#x}, {end:#x}) has no room for one page")));
        }
        Ok(Self::build(start, end))
    }

    /// A space over bounds already checked.
    fn build(start: u64, end: u64) -> Self {
        let mut free = FreeTree::new();
        free.release(start, end);
        VmallocSpace {
            start,
            end,
            version: KernelVersion::default(),
            busy: Busy::default(),
            free,
            nr_vmalloc_pages: 0,
            callers: HashMap::new(),
            last_caller: None,
            freed: HashSet::default(),
            node_map: Vec::new(),
            recorder: Recorder::default(),
            totalram_pages: None,
            extra_ranges: Vec::new(),
        }
    }

    /// Add a range outside `[VMALLOC_START, VMALLOC_END)` that requests may
    /// name (x86's module space, where `module_alloc` places its areas).
    /// Page aligned, room for a page and its guard, overlapping neither
    /// the vmalloc space nor another added range.
    pub fn add_range(&mut self, start: u64, end: u64) -> Result<()> {
        if start % PAGE_SIZE != 0 {
            return Err(MmError::invalid("start", format!("{start:#x} is not page aligned")));
        }
        if end <= start || end - start < 2 * PAGE_SIZE {
            return Err(MmError::invalid("end", format!("[{start:#x}, {end:#x}) has no room for one page")));
        }
        let overlaps = |&(a, b): &(u64, u64)| start < b && a < end;
        if overlaps(&(self.start, self.end)) || self.extra_ranges.iter().any(overlaps) {
            return Err(MmError::invalid("start", format!("[{start:#x}, {end:#x}) overlaps a range of the space")));
        }
        self.extra_ranges.push((start, end));
        self.free.release(start, end);
        Ok(())
    }

    /// The ranges added with [`Self::add_range`].
    pub fn extra_ranges(&self) -> &[(u64, u64)] {
        &self.extra_ranges
    }

    /// Is `[start, end)` inside the vmalloc space or one added range?
    pub(crate) fn range_allowed(&self, start: u64, end: u64) -> bool {
        start < end
            && std::iter::once((self.start, self.end))
                .chain(self.extra_ranges.iter().copied())
                .any(|(a, b)| a <= start && end <= b)
    }

    fn x86_64(start: u64, size_tb: u64) -> Self {
        // VMALLOC_END is the last byte: start + size - 1.
        Self::build(start, start + (size_tb << 40) - 1)
    }

    /// x86_64 with 4-level paging: `0xffffc90000000000`, 32 TiB.
    pub fn x86_64_4level() -> Self {
        Self::x86_64(X86_64_VMALLOC_START_L4, X86_64_VMALLOC_SIZE_TB_L4)
    }

    /// x86_64 with 5-level paging: `0xffa0000000000000`, 12800 TiB.
    pub fn x86_64_5level() -> Self {
        Self::x86_64(X86_64_VMALLOC_START_L5, X86_64_VMALLOC_SIZE_TB_L5)
    }

    /// The same space, behaving as kernel `version` (5.14 default; 6.1
    /// allows huge vmalloc mappings).
    pub fn with_version(mut self, version: KernelVersion) -> Self {
        self.version = version;
        self
    }

    /// The kernel version modelled.
    pub fn version(&self) -> KernelVersion {
        self.version
    }

    /// `VMALLOC_START`.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// `VMALLOC_END` (exclusive bound of every area).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Say which node each pfn range belongs to (`(first pfn, end pfn,
    /// nid)`), for the `N<nid>=` counts of /proc/vmallocinfo. Without it
    /// every page counts as node 0.
    pub fn set_node_map(&mut self, mut ranges: Vec<(Pfn, Pfn, i32)>) {
        ranges.sort_unstable();
        self.node_map = ranges;
    }

    /// Tell the space how many pages the machine has (`totalram_pages()`):
    /// vmalloc and vmap of more pages then fail up front, as in the kernel.
    pub fn set_totalram_pages(&mut self, pages: Option<u64>) {
        self.totalram_pages = pages;
    }

    /// The node of `pfn` per [`VmallocSpace::set_node_map`].
    pub fn node_of(&self, pfn: Pfn) -> i32 {
        let i = self.node_map.partition_point(|r| r.0 <= pfn);
        match i.checked_sub(1).map(|i| self.node_map[i]) {
            Some((_, end, nid)) if pfn < end => nid,
            _ => 0,
        }
    }

    /// `is_vmalloc_addr()`.
    pub fn is_vmalloc_addr(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// `is_vmalloc_or_module_addr()`: in the vmalloc space or an added range.
    pub fn is_vmalloc_or_module_addr(&self, addr: u64) -> bool {
        self.is_vmalloc_addr(addr) || self.extra_ranges.iter().any(|&(a, b)| a <= addr && addr < b)
    }

    /// `find_vmap_area()`: the busy area holding `addr` (guard page
    /// included).
    pub fn find_vmap_area(&self, addr: u64) -> Option<&VmapArea> {
        self.busy.containing(addr)
    }

    /// The pfn of every base page of the vmalloc area starting at `addr`,
    /// in address order (none for vmap and ioremap areas, which own no
    /// pages). Errors as [`VmallocSpace::vfree`] for an address that starts
    /// no area.
    pub fn area_pfns(&self, addr: u64) -> Result<Vec<Pfn>> {
        let vm = self.find_vm_area(addr).ok_or_else(|| self.bad_free(addr))?;
        let n = 1u64 << vm.page_order;
        Ok(vm.pages.iter().flat_map(|&p| p..p + n).collect())
    }

    /// `find_vm_area()`: the `vm_struct` of the area starting at `addr`.
    pub fn find_vm_area(&self, addr: u64) -> Option<&VmStruct> {
        self.busy.get(&addr).map(|va| &va.vm)
    }

    /// Busy areas in address order.
    pub fn areas(&self) -> impl Iterator<Item = &VmapArea> + '_ {
        self.busy.values()
    }

    /// Number of busy areas.
    pub fn nr_areas(&self) -> usize {
        self.busy.len()
    }

    /// `vmalloc_nr_pages()`: base pages held by vmalloc areas.
    pub fn nr_vmalloc_pages(&self) -> u64 {
        self.nr_vmalloc_pages
    }

    /// The free space.
    pub fn free_space(&self) -> &FreeTree {
        &self.free
    }

    /// Turn event recording on or off (off by default).
    pub fn set_event_recording(&mut self, on: bool) {
        self.recorder.on = on;
    }

    /// Events recorded so far.
    pub fn events(&self) -> &[VmallocEvent] {
        &self.recorder.events
    }

    /// Take the recorded events, leaving none.
    pub fn take_events(&mut self) -> Vec<VmallocEvent> {
        std::mem::take(&mut self.recorder.events)
    }

    // ----- internals shared by alloc.rs -----------------------------------

    fn intern(&mut self, caller: &str) -> Arc<str> {
        if let Some(c) = &self.last_caller {
            if **c == *caller {
                return c.clone();
            }
        }
        let c = match self.callers.get(caller) {
            Some(c) => c.clone(),
            None => {
                let c: Arc<str> = Arc::from(caller);
                self.callers.insert(Box::from(caller), c.clone());
                c
            }
        };
        self.last_caller = Some(c.clone());
        c
    }

    #[inline]
    fn record(&mut self, kind: VmallocEventKind, vm: &VmStruct) {
        if self.recorder.on {
            self.record_slow(kind, vm);
        }
    }

    #[cold]
    fn record_slow(&mut self, kind: VmallocEventKind, vm: &VmStruct) {
        self.recorder.events.push(VmallocEvent {
            kind,
            addr: vm.addr,
            size: vm.size,
            flags: vm.flags,
            nr_pages: vm.nr_pages,
            caller: vm.caller.clone(),
        });
    }

    fn remember_freed(&mut self, addr: u64) {
        if self.freed.len() >= FREED_MEMORY {
            self.freed.clear();
        }
        self.freed.insert(addr);
    }

    /// The error for freeing `addr`, which starts no busy area: a double
    /// free ([`MmError::ObjectDoubleFree`], kind DoubleFree) when an area
    /// starting at `addr` was freed and no area has started there since,
    /// else [`MmError::NotAnObject`] (kind NotAllocated). Both name the
    /// virtual address; the page-level `DoubleFree`/`NotAllocated` variants
    /// carry a pfn and an order, which a vmalloc address is not.
    #[cold]
    fn bad_free(&self, addr: u64) -> MmError {
        if self.freed.contains(&addr) {
            MmError::ObjectDoubleFree { addr, cache: "vmalloc".into() }
        } else {
            MmError::NotAnObject { addr, cache: "vmalloc".into() }
        }
    }
}

/// Hasher for page-aligned addresses: one multiply (Fibonacci hashing).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (x >> 12).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
