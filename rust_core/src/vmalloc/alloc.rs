//! Setting areas up and tearing them down: reservations
//! (`get_vm_area`), vmalloc/vfree, vmap/vunmap, ioremap/iounmap.

use std::sync::Arc;

use super::area::{VmFlags, VmStruct, VmapArea};
use super::events::VmallocEventKind;
use super::{VmallocSpace, IOREMAP_MAX_ORDER, PMD_SIZE};
use crate::error::{MmError, Result};
use crate::memblock::KernelVersion;
use crate::page_source::{PageSource, PageUse};
use crate::pagetable::{PageSizePolicy, PageTable, PteFlags};
use crate::units::{pfn_phys, Pfn, PAGE_SHIFT, PAGE_SIZE};

/// `vm_area_alloc_pages` asks the bulk allocator for at most this many pages
/// at a time.
const VMALLOC_BULK_MAX: u64 = 100;

/// A `__vmalloc_node_range()` request. [`VmallocRequest::new`] gives what
/// `vmalloc()` asks for.
#[derive(Debug, Clone)]
pub struct VmallocRequest<'a> {
    /// Bytes wanted (rounded up to pages).
    pub size: u64,
    /// Alignment of the area start (a power of two; below a page means a
    /// page).
    pub align: u64,
    /// `[start, end)` the area must lie in; `None`: the whole space.
    pub range: Option<(u64, u64)>,
    /// Protection of the mapping (`PAGE_KERNEL`).
    pub prot: PteFlags,
    /// Extra `VM_*` flags (`VM_ALLOC` is always added).
    pub vm_flags: VmFlags,
    /// Preferred node of the pages (`NUMA_NO_NODE`: `None`).
    pub nid: Option<i32>,
    /// The caller's name (`%pS` of the return address).
    pub caller: &'a str,
}

impl<'a> VmallocRequest<'a> {
    /// `vmalloc(size)` from `caller`.
    pub fn new(size: u64, caller: &'a str) -> Self {
        VmallocRequest {
            size,
            align: 1,
            range: None,
            prot: PteFlags::PAGE_KERNEL,
            vm_flags: VmFlags::empty(),
            nid: None,
            caller,
        }
    }
}

/// Size, alignment and page order of an area being set up.
#[derive(Clone, Copy)]
struct Shape {
    size: u64,
    align: u64,
    order: u32,
}

/// `PAGE_ALIGN`, failing on overflow.
fn page_align(size: u64) -> Result<u64> {
    size.checked_add(PAGE_SIZE - 1)
        .map(|s| s & !(PAGE_SIZE - 1))
        .ok_or_else(|| MmError::OutOfMemory { request: format!("{size:#x} bytes of vmalloc space") })
}

fn oom(what: String) -> MmError {
    MmError::OutOfMemory { request: what }
}

fn give_back(src: &mut dyn PageSource, pages: &[Pfn], order: u32) -> Result<()> {
    let mut first = Ok(());
    for &p in pages {
        if let Err(e) = src.free_pages(p, order, PageUse::Vmalloc) {
            if first.is_ok() {
                first = Err(e);
            }
        }
    }
    first
}

impl VmallocSpace {
    // ----- reservations -----------------------------------------------------

    /// `__get_vm_area_node()`: reserve `size` bytes (rounded up to
    /// `mapping` bytes, plus a guard page unless `VM_NO_GUARD`) aligned to
    /// `align` in `[vstart, vend)` at the lowest address that fits. Returns
    /// the start; nothing is mapped.
    fn reserve(
        &mut self,
        size: u64,
        align: u64,
        mapping: u64,
        range: Option<(u64, u64)>,
        flags: VmFlags,
        caller: Arc<str>,
    ) -> Result<u64> {
        if size == 0 {
            return Err(MmError::invalid("size", "zero-size vmalloc area"));
        }
        if !align.is_power_of_two() {
            return Err(MmError::invalid("align", format!("{align:#x} is not a power of two")));
        }
        let (vstart, vend) = range.unwrap_or((self.start, self.end));
        if !self.range_allowed(vstart, vend) {
            return Err(MmError::OutOfRange { what: "vmalloc range start", value: vstart, min: self.start, max: self.end });
        }
        let mut size = size
            .checked_add(mapping - 1)
            .map(|s| s & !(mapping - 1))
            .ok_or_else(|| oom(format!("{size:#x} bytes of vmalloc space")))?;
        let mut align = align.max(PAGE_SIZE);
        if flags.contains(VmFlags::VM_IOREMAP) {
            let order = (64 - (size - 1).leading_zeros()).clamp(PAGE_SHIFT, IOREMAP_MAX_ORDER);
            align = 1 << order;
        }
        if !flags.contains(VmFlags::VM_NO_GUARD) {
            size = size.checked_add(PAGE_SIZE).ok_or_else(|| oom(format!("{size:#x} bytes of vmalloc space")))?;
        }
        let addr = self
            .free
            .find_lowest(size, align, vstart, vend)
            .ok_or_else(|| oom(format!("vmalloc space: {size:#x} bytes aligned to {align:#x}")))?;
        let taken = self.free.take(addr, addr + size);
        debug_assert!(taken);
        let end = addr + size;
        if !self.freed.is_empty() {
            self.freed.remove(&addr);
        }
        let vm = VmStruct {
            addr,
            size,
            flags,
            pages: Vec::new(),
            page_order: 0,
            nr_pages: 0,
            phys_addr: 0,
            caller,
            pages_area: None,
            mapped: 0,
            array_of: None,
        };
        self.busy.insert(VmapArea { va_start: addr, va_end: end, vm });
        Ok(addr)
    }

    /// Drop the reservation at `addr` (nothing mapped, no page owned).
    fn unreserve(&mut self, addr: u64) {
        if let Some(va) = self.busy.remove(&addr) {
            let released = self.free.release(va.va_start, va.va_end);
            debug_assert!(released);
        }
    }

    /// `get_vm_area_caller()`: reserve an area of `size` bytes with `flags`
    /// (`VM_IOREMAP` aligns it to its size, up to 1 GiB) and no pages.
    /// Returns its start.
    pub fn get_vm_area(&mut self, size: u64, flags: VmFlags, caller: &str) -> Result<u64> {
        self.get_vm_area_range(size, 1, flags, None, caller)
    }

    /// `__get_vm_area_caller()` with an alignment and a sub-range
    /// `[start, end)` of the space (`None`: all of it).
    pub fn get_vm_area_range(
        &mut self,
        size: u64,
        align: u64,
        flags: VmFlags,
        range: Option<(u64, u64)>,
        caller: &str,
    ) -> Result<u64> {
        let caller = self.intern(caller);
        let addr = self.reserve(size, align, PAGE_SIZE, range, flags, caller)?;
        self.record_at(VmallocEventKind::Alloc, addr);
        Ok(addr)
    }

    /// `free_vm_area()`: remove an area that owns no pages (a reservation,
    /// a vmap or an ioremap), unmapping what this module mapped there.
    /// Errors: no area starts at `addr` (NotAllocated / DoubleFree kinds);
    /// the area owns pages (use [`VmallocSpace::vfree`]).
    pub fn free_vm_area(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, addr: u64) -> Result<()> {
        let Some(va) = self.busy.get(&addr) else { return Err(self.bad_free(addr)) };
        if va.vm.nr_pages > 0 || va.vm.array_of.is_some() {
            return Err(MmError::InvalidState(format!(
                "free_vm_area of {addr:#x}: the area owns pages ({:?}); use vfree",
                va.vm.flags
            )));
        }
        self.teardown(pt, src, addr, true)?;
        self.remember_freed(addr);
        Ok(())
    }

    // ----- vmalloc ------------------------------------------------------------

    /// `__vmalloc_node(size, align, GFP_KERNEL, NUMA_NO_NODE, caller)`:
    /// `size` bytes of order-0 pages mapped `PAGE_KERNEL`. Returns the
    /// start of the area.
    pub fn vmalloc(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        size: u64,
        align: u64,
        caller: &str,
    ) -> Result<u64> {
        let req = VmallocRequest { align, ..VmallocRequest::new(size, caller) };
        self.vmalloc_node_range(pt, src, &req)
    }

    /// `vmalloc_node()`: pages preferably from node `nid`.
    pub fn vmalloc_node(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        size: u64,
        nid: Option<i32>,
        caller: &str,
    ) -> Result<u64> {
        let req = VmallocRequest { nid, ..VmallocRequest::new(size, caller) };
        self.vmalloc_node_range(pt, src, &req)
    }

    /// `vmalloc_user()`: an area that may be mapped to user space
    /// (`VM_USERMAP`, "user" in /proc/vmallocinfo).
    pub fn vmalloc_user(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, size: u64, caller: &str) -> Result<u64> {
        let req = VmallocRequest { vm_flags: VmFlags::VM_USERMAP, ..VmallocRequest::new(size, caller) };
        self.vmalloc_node_range(pt, src, &req)
    }

    /// `vmalloc_huge()` (6.1): PMD-size pages mapped with 2 MiB leaves when
    /// the size is at least `PMD_SIZE` (size and alignment rounded to it).
    /// Falls back to base pages when huge pages cannot be had, when the
    /// area is smaller, when the page table has no PMD leaves, and always
    /// for 5.14 (x86 had no huge vmalloc before 5.18).
    pub fn vmalloc_huge(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, size: u64, caller: &str) -> Result<u64> {
        let req = VmallocRequest { vm_flags: VmFlags::VM_ALLOW_HUGE_VMAP, ..VmallocRequest::new(size, caller) };
        self.vmalloc_node_range(pt, src, &req)
    }

    /// `__vmalloc_node_range()`: the general vmalloc.
    pub fn vmalloc_node_range(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        req: &VmallocRequest<'_>,
    ) -> Result<u64> {
        if req.size == 0 {
            return Err(MmError::invalid("size", "zero-size vmalloc"));
        }
        let size = page_align(req.size)?;
        if let Some(total) = self.totalram_pages {
            if size >> PAGE_SHIFT > total {
                return Err(oom(format!("vmalloc of {size:#x} bytes: more than the machine's {total} pages")));
            }
        }
        let caller = self.intern(req.caller);
        let huge = req.vm_flags.contains(VmFlags::VM_ALLOW_HUGE_VMAP)
            && self.version != KernelVersion::V5_14
            && size >= PMD_SIZE
            && pt.level_of_size(PMD_SIZE).is_ok();
        let mut attempt = Err(oom(String::new()));
        if huge {
            attempt = self.alloc_area(pt, src, req, Shape { size, align: req.align.max(PMD_SIZE), order: 9 }, caller.clone());
        }
        if attempt.is_err() {
            attempt = self.alloc_area(pt, src, req, Shape { size, align: req.align, order: 0 }, caller);
        }
        let addr = attempt?;
        if self.recorder.on {
            self.record_tree(addr);
        }
        Ok(addr)
    }

    /// Record the area at `addr`, after the page-array areas set up inside
    /// it.
    fn record_tree(&mut self, addr: u64) {
        if let Some(arr) = self.busy.get(&addr).and_then(|va| va.vm.pages_area) {
            self.record_tree(arr);
        }
        self.record_at(VmallocEventKind::Alloc, addr);
    }

    fn record_at(&mut self, kind: VmallocEventKind, addr: u64) {
        if self.recorder.on {
            if let Some(va) = self.busy.get(&addr) {
                let vm = va.vm.clone();
                self.record(kind, &vm);
            }
        }
    }

    /// Reserve, take pages of `order` (and a page array area when the
    /// array exceeds a page), map. All or nothing.
    fn alloc_area(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        req: &VmallocRequest<'_>,
        shape: Shape,
        caller: Arc<str>,
    ) -> Result<u64> {
        // the tables this call makes go back if it fails; those it found
        // stay (the space keeps its tables)
        pt.journaled(src, |pt, src| self.alloc_area_inner(pt, src, req, shape, caller))
    }

    fn alloc_area_inner(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        req: &VmallocRequest<'_>,
        shape: Shape,
        caller: Arc<str>,
    ) -> Result<u64> {
        let Shape { size, align, order } = shape;
        let chunk = PAGE_SIZE << order;
        let flags = req.vm_flags | VmFlags::VM_ALLOC;
        let addr = self.reserve(size, align, chunk, req.range, flags, caller.clone())?;
        let mapped_size = match self.busy.get(&addr) {
            Some(va) => va.vm.size_without_guard(),
            None => size,
        };
        let nr_pages = mapped_size >> PAGE_SHIFT;
        // The page array: kmalloc'ed up to a page, vmalloc'ed beyond.
        let mut pages_area = None;
        if nr_pages * 8 > PAGE_SIZE {
            let nested = VmallocRequest {
                size: nr_pages * 8,
                align: 1,
                range: None,
                prot: PteFlags::PAGE_KERNEL,
                vm_flags: VmFlags::empty(),
                nid: req.nid,
                caller: "",
            };
            match self.alloc_area(pt, src, &nested, Shape { size: page_align(nr_pages * 8)?, align: 1, order: 0 }, caller) {
                Ok(a) => {
                    if let Some(va) = self.busy.get_mut(&a) {
                        va.vm.array_of = Some(addr);
                    }
                    pages_area = Some(a);
                }
                Err(e) => {
                    self.unreserve(addr);
                    return Err(e);
                }
            }
        }
        let undo = |this: &mut Self, pt: &mut PageTable, src: &mut dyn PageSource, pages: &[Pfn], mapped: u64| {
            if mapped > 0 {
                let _ = pt.unmap_range_keep_tables(src, addr, mapped);
            }
            let _ = give_back(src, pages, order);
            if let Some(a) = pages_area {
                let _ = this.teardown(pt, src, a, false);
            }
            this.unreserve(addr);
        };
        let n = nr_pages >> order;
        let mut pages: Vec<Pfn> = Vec::with_capacity(n.min(1 << 16) as usize);
        if order == 0 {
            // vm_area_alloc_pages: bulk requests of at most 100 pages (under
            // an interleave policy each one is split over the nodes); a
            // short one ends the bulk part, the rest come one at a time
            while (pages.len() as u64) < n {
                let want = (n - pages.len() as u64).min(VMALLOC_BULK_MAX) as usize;
                match src.alloc_pages_bulk(want, req.nid, PageUse::Vmalloc, &mut pages) {
                    Ok(got) if got == want => {}
                    _ => break,
                }
            }
        }
        while (pages.len() as u64) < n {
            match src.alloc_pages(order, req.nid, PageUse::Vmalloc) {
                Ok(p) => pages.push(p),
                Err(e) => {
                    undo(self, pt, src, &pages, 0);
                    return Err(e);
                }
            }
        }
        for (i, &p) in pages.iter().enumerate() {
            let va = addr + i as u64 * chunk;
            if let Err(e) = pt.map(src, va, pfn_phys(p), chunk, req.prot) {
                undo(self, pt, src, &pages, i as u64 * chunk);
                return Err(e);
            }
        }
        self.nr_vmalloc_pages += nr_pages;
        if let Some(va) = self.busy.get_mut(&addr) {
            va.vm.pages = pages;
            va.vm.page_order = order;
            va.vm.nr_pages = nr_pages;
            va.vm.pages_area = pages_area;
            va.vm.mapped = mapped_size;
        }
        Ok(addr)
    }

    /// Unmap the area at `addr`, give its pages back, release its space
    /// (and its page array's area). The page tables stay, as the kernel's
    /// `vunmap_range` leaves them. Unmapping is the only step that can
    /// fail on a consistent table; it comes first, so an error changes
    /// nothing. Errors from the page source when giving pages back (a
    /// source that disowns them) are returned after the teardown is done.
    fn teardown(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, addr: u64, record: bool) -> Result<()> {
        let Some(va) = self.busy.get(&addr) else { return Err(self.bad_free(addr)) };
        if va.vm.mapped > 0 {
            pt.unmap_range_keep_tables(src, addr, va.vm.mapped)?;
        }
        let Some(va) = self.busy.remove(&addr) else { return Ok(()) };
        if record {
            self.record(VmallocEventKind::Free, &va.vm);
        }
        let mut res = give_back(src, &va.vm.pages, va.vm.page_order);
        self.nr_vmalloc_pages -= va.vm.nr_pages;
        let released = self.free.release(va.va_start, va.va_end);
        debug_assert!(released);
        if let Some(a) = va.vm.pages_area {
            let r = self.teardown(pt, src, a, record);
            if res.is_ok() {
                res = r;
            }
        }
        res
    }

    /// `vfree()`: unmap a vmalloc area, free its pages and its space (and
    /// its page array's area). `vfree(0)` does nothing. Errors: `addr`
    /// starts no area (kind NotAllocated; kind DoubleFree when an area
    /// starting there was freed and none has started there since), the
    /// area is not a vmalloc area (InvalidState), or the mapping is gone
    /// (NotMapped); nothing changed then.
    pub fn vfree(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, addr: u64) -> Result<()> {
        if addr == 0 {
            return Ok(());
        }
        let Some(va) = self.busy.get(&addr) else { return Err(self.bad_free(addr)) };
        if !va.vm.flags.contains(VmFlags::VM_ALLOC) || va.vm.array_of.is_some() {
            return Err(MmError::InvalidState(format!(
                "vfree of {addr:#x}: not a vmalloc area ({:?}{})",
                va.vm.flags,
                if va.vm.array_of.is_some() { ", the page array of another area" } else { "" }
            )));
        }
        self.teardown(pt, src, addr, true)?;
        self.remember_freed(addr);
        Ok(())
    }

    // ----- vmap / ioremap -----------------------------------------------------

    /// `vmap(pages, count, flags, PAGE_KERNEL)`: map the caller's pages
    /// `pfns` contiguously (the caller keeps them). `flags` is usually
    /// `VM_MAP`; `VM_ALLOC` is refused. Returns the start.
    pub fn vmap(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        pfns: &[Pfn],
        flags: VmFlags,
        caller: &str,
    ) -> Result<u64> {
        if pfns.is_empty() {
            return Err(MmError::invalid("pfns", "vmap of no page"));
        }
        if flags.contains(VmFlags::VM_ALLOC) {
            return Err(MmError::invalid("flags", "vmap areas do not own their pages (VM_ALLOC)"));
        }
        let count = pfns.len() as u64;
        let size = count.checked_mul(PAGE_SIZE).ok_or_else(|| oom(format!("vmap of {count} pages")))?;
        if self.totalram_pages.is_some_and(|t| count > t) {
            return Err(oom(format!("vmap of {count} pages: more than the machine has")));
        }
        let caller = self.intern(caller);
        let addr = self.reserve(size, 1, PAGE_SIZE, None, flags, caller)?;
        let mapped = pt.journaled(src, |pt, src| {
            for (i, &p) in pfns.iter().enumerate() {
                let va = addr + ((i as u64) << PAGE_SHIFT);
                let r = pfn_phys(p)
                    .checked_shr(PAGE_SHIFT)
                    .filter(|&x| x == p)
                    .ok_or_else(|| MmError::invalid("pfns", format!("pfn {p:#x} is out of range")))
                    .and_then(|_| pt.map(src, va, pfn_phys(p), PAGE_SIZE, PteFlags::PAGE_KERNEL));
                if let Err(e) = r {
                    if i > 0 {
                        let _ = pt.unmap_range_keep_tables(src, addr, (i as u64) << PAGE_SHIFT);
                    }
                    return Err(e);
                }
            }
            Ok(())
        });
        if let Err(e) = mapped {
            self.unreserve(addr);
            return Err(e);
        }
        if let Some(va) = self.busy.get_mut(&addr) {
            va.vm.mapped = size;
        }
        self.record_at(VmallocEventKind::Alloc, addr);
        Ok(addr)
    }

    /// `vunmap()`: unmap and release an area set up by [`VmallocSpace::vmap`]
    /// (the pages stay the caller's). Errors as [`VmallocSpace::vfree`];
    /// a vmalloc area is refused (InvalidState: use vfree).
    pub fn vunmap(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, addr: u64) -> Result<()> {
        if addr == 0 {
            return Ok(());
        }
        let Some(va) = self.busy.get(&addr) else { return Err(self.bad_free(addr)) };
        if va.vm.flags.contains(VmFlags::VM_ALLOC) || va.vm.array_of.is_some() {
            return Err(MmError::InvalidState(format!("vunmap of vmalloc area {addr:#x}: use vfree")));
        }
        self.teardown(pt, src, addr, true)?;
        self.remember_freed(addr);
        Ok(())
    }

    /// `ioremap()`: map the device memory `[phys, phys + size)` (page
    /// granular; the largest leaves alignment allows). Returns the virtual
    /// address of `phys` (the area start plus `phys`'s offset in its page).
    /// The protection is `PAGE_KERNEL`: the engine has no cache-mode bits.
    pub fn ioremap(
        &mut self,
        pt: &mut PageTable,
        src: &mut dyn PageSource,
        phys: u64,
        size: u64,
        caller: &str,
    ) -> Result<u64> {
        let end = size
            .checked_sub(1)
            .and_then(|s| phys.checked_add(s))
            .and_then(|last| last.checked_add(1))
            .and_then(|e| page_align(e).ok());
        let Some(end) = end else {
            return Err(MmError::invalid("size", format!("ioremap of {size:#x} bytes at {phys:#x}")));
        };
        let offset = phys & (PAGE_SIZE - 1);
        let base = phys - offset;
        let len = end - base;
        let caller = self.intern(caller);
        let addr = self.reserve(len, 1, PAGE_SIZE, None, VmFlags::VM_IOREMAP, caller)?;
        if let Err(e) = pt.map_range(src, addr, base, len, PteFlags::PAGE_KERNEL, PageSizePolicy::Largest) {
            self.unreserve(addr);
            return Err(e);
        }
        if let Some(va) = self.busy.get_mut(&addr) {
            va.vm.phys_addr = base;
            va.vm.mapped = len;
        }
        self.record_at(VmallocEventKind::Alloc, addr);
        Ok(addr + offset)
    }

    /// `iounmap()`: undo [`VmallocSpace::ioremap`] (`addr` may point inside
    /// the first page).
    pub fn iounmap(&mut self, pt: &mut PageTable, src: &mut dyn PageSource, addr: u64) -> Result<()> {
        let start = addr & !(PAGE_SIZE - 1);
        let Some(va) = self.busy.get(&start) else { return Err(self.bad_free(start)) };
        if !va.vm.flags.contains(VmFlags::VM_IOREMAP) {
            return Err(MmError::InvalidState(format!("iounmap of {addr:#x}: not an ioremap area")));
        }
        self.teardown(pt, src, start, true)?;
        self.remember_freed(start);
        Ok(())
    }

    /// `vmalloc_to_pfn()`: the pfn `addr` maps to, through the page table.
    pub fn vmalloc_to_pfn(&self, pt: &PageTable, addr: u64) -> Result<Pfn> {
        if !self.is_vmalloc_or_module_addr(addr) {
            return Err(MmError::OutOfRange { what: "vmalloc address", value: addr, min: self.start, max: self.end });
        }
        pt.translate_phys(addr).map(|p| p >> PAGE_SHIFT).ok_or(MmError::NotMapped { addr })
    }
}
