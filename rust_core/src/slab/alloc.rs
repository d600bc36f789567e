//! Allocation and free paths (mm/slub.c `___slab_alloc`, `__slab_free`):
//! the current CPU's active slab, its per-cpu partial list, the node partial
//! list, then a new slab from the page source; frees with double-free and
//! wrong-address detection; `put_cpu_partial`, `unfreeze_partials`,
//! `deactivate_slab`, `discard_slab`; page reservations that make compound
//! operations all-or-nothing.

use super::cache::{CacheId, KmemCache, NO_SLAB};
use super::events::SlabEventKind;
use super::pfnmap::PfnEntry;
use super::slab::{Slab, SlabState};
use super::SlabAllocator;
use crate::error::{MmError, Result};
use crate::memblock::KernelVersion;
use crate::page_source::{PageSource, PageUse};
use crate::units::PAGE_SHIFT;

/// Pages taken from the source ahead of a compound operation, for one cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reserved {
    pub cache: u32,
    pub pfn: u64,
    pub order: u32,
    pub objects: u32,
}

/// The live cache `cid` (internal ids always name live caches).
#[inline]
pub(crate) fn cm(caches: &mut [Option<KmemCache>], cid: u32) -> &mut KmemCache {
    match caches.get_mut(cid as usize) {
        Some(Some(c)) => c,
        _ => unreachable_cache(),
    }
}

#[cold]
fn unreachable_cache() -> ! {
    // Internal ids always name live caches; reaching this is a bug in this
    // module, not something callers can trigger.
    unreachable!("slab: internal cache id of a destroyed cache")
}

/// Index of the object starting at `addr` in a slab whose object 0 is at
/// `base`, or `None` if `addr` is not an object start. Slabs are at most
/// 4 MiB, so the division is done on 32 bits.
#[inline]
fn object_index(addr: u64, base: u64, size: u32, objects: u32) -> Option<u32> {
    let rel = addr.checked_sub(base)?;
    if rel >= size as u64 * objects as u64 {
        return None;
    }
    let rel = rel as u32;
    (rel % size == 0).then_some(rel / size)
}

pub(crate) fn not_an_object(addr: u64, cache: &str) -> MmError {
    MmError::NotAnObject { addr, cache: cache.to_string() }
}

impl SlabAllocator {
    #[inline]
    pub(crate) fn cache_ref(&self, cid: u32) -> &KmemCache {
        match self.caches.get(cid as usize) {
            Some(Some(c)) => c,
            _ => unreachable_cache(),
        }
    }

    #[inline]
    pub(crate) fn cache_mut_unchecked(&mut self, cid: u32) -> &mut KmemCache {
        cm(&mut self.caches, cid)
    }

    /// Allocate one object from cache `cid` on the current CPU.
    #[inline]
    pub(crate) fn alloc_obj(&mut self, cid: u32, src: &mut dyn PageSource) -> Result<u64> {
        let cpu = self.cpu as usize;
        let Some(Some(cache)) = self.caches.get_mut(cid as usize) else {
            return Err(MmError::invalid("cache", format!("no live cache with id {cid}")));
        };
        if let Some(c) = cache.cpus.get(cpu) {
            if let Some(slab) = self.slabs.get_mut(c.slab as usize) {
                if let Some(idx) = slab.pop() {
                    cache.live_objects += 1;
                    return Ok(slab.base + idx as u64 * cache.layout.size as u64);
                }
            }
        }
        self.alloc_slow(cid, src)
    }

    /// `___slab_alloc` once the active slab is exhausted: the per-cpu
    /// partial list, then the node partial list (`get_partial_node`), then a
    /// new slab. Nothing changes if the new slab cannot be had.
    #[cold]
    fn alloc_slow(&mut self, cid: u32, src: &mut dyn PageSource) -> Result<u64> {
        let cpu = self.cpu;
        let (cpu_partial, node_head) = {
            let c = self.cache_ref(cid);
            (c.cpus[cpu as usize].partial, c.node.head)
        };
        let next = if cpu_partial != NO_SLAB {
            let nxt = self.slabs[cpu_partial as usize].next;
            let free = self.slabs[cpu_partial as usize].free_objects() as u64;
            let cache = cm(&mut self.caches, cid);
            let c = &mut cache.cpus[cpu as usize];
            c.partial = nxt;
            c.partial_free -= free;
            // As `slub_set_percpu_partial`: the counts are those the new head
            // recorded when it was put on the list.
            (c.partial_slabs, c.partial_pobjects) = match self.slabs.get(nxt as usize) {
                Some(n) => (n.pslabs, n.pobjects),
                None => (0, 0),
            };
            cpu_partial
        } else if node_head != NO_SLAB {
            self.get_partial_node(cid, cpu);
            node_head
        } else {
            // get_any_partial finds no other node's partial slab either (one
            // list here), but asking the memory policy where to look from
            // has moved an interleave on (the kernel skips the scan when
            // get_cycles() % 1024 exceeds remote_node_defrag_ratio, about
            // one time in 45; no clock runs here)
            src.mempolicy_slab_node();
            self.new_slab(cid, src)?
        };
        self.retire_active(cid, cpu);
        let cache = cm(&mut self.caches, cid);
        cache.cpus[cpu as usize].slab = next;
        let slab = &mut self.slabs[next as usize];
        slab.state = SlabState::Cpu;
        slab.cpu = cpu;
        slab.next = NO_SLAB;
        slab.prev = NO_SLAB;
        let idx = slab.pop().ok_or_else(|| MmError::InvalidState("slab without free objects".into()))?;
        cache.live_objects += 1;
        Ok(slab.base + idx as u64 * cache.layout.size as u64)
    }

    /// `get_partial_node`: the head of the node list will become the active
    /// slab (the caller installs it); more slabs move to the per-cpu partial
    /// list until half of `cpu_partial` (5.14: objects, 6.1: slabs) is there.
    fn get_partial_node(&mut self, cid: u32, cpu: u32) {
        let version = self.config.version;
        let cache = cm(&mut self.caches, cid);
        let first = cache.node.head;
        let mut available = self.slabs[first as usize].free_objects() as u64;
        cache.node.remove_partial(&mut self.slabs, first);
        let mut moved = 0u32;
        loop {
            let cache = self.cache_ref(cid);
            if !cache.has_cpu_partial {
                break;
            }
            let done = match version {
                KernelVersion::V5_14 => available > (cache.cpu_partial / 2) as u64,
                KernelVersion::V6_1 => moved > cache.cpu_partial_slabs / 2,
            };
            let head = cache.node.head;
            if done || head == NO_SLAB {
                break;
            }
            available += self.slabs[head as usize].free_objects() as u64;
            cm(&mut self.caches, cid).node.remove_partial(&mut self.slabs, head);
            self.put_cpu_partial(cid, cpu, head, false, &mut None);
            moved += 1;
        }
    }

    /// The exhausted active slab of `cpu` leaves it: full, on no list.
    fn retire_active(&mut self, cid: u32, cpu: u32) {
        let cache = cm(&mut self.caches, cid);
        let sid = cache.cpus[cpu as usize].slab;
        if sid == NO_SLAB {
            return;
        }
        cache.cpus[cpu as usize].slab = NO_SLAB;
        let slab = &mut self.slabs[sid as usize];
        if slab.inuse == slab.objects {
            slab.state = SlabState::Full;
            cache.node.nr_full += 1;
        } else {
            cache.node.add_partial(&mut self.slabs, sid, false);
        }
    }

    /// `put_cpu_partial`: freeze slab `sid` onto `cpu`'s partial list; with
    /// `drain`, a full list first goes to the node (`unfreeze_partials`).
    /// Without a source (`None`) empty slabs are kept instead of discarded.
    fn put_cpu_partial(&mut self, cid: u32, cpu: u32, sid: u32, drain: bool, src: &mut Option<&mut dyn PageSource>) {
        let version = self.config.version;
        let c = self.cache_ref(cid);
        let pc = c.cpus[cpu as usize];
        if pc.partial != NO_SLAB && drain {
            let full = match version {
                KernelVersion::V5_14 => pc.partial_pobjects > c.cpu_partial,
                KernelVersion::V6_1 => pc.partial_slabs >= c.cpu_partial_slabs,
            };
            if full {
                self.unfreeze_partials(cid, cpu, src);
            }
        }
        let free = self.slabs[sid as usize].free_objects();
        let cache = cm(&mut self.caches, cid);
        let pc = &mut cache.cpus[cpu as usize];
        let slab = &mut self.slabs[sid as usize];
        slab.state = SlabState::CpuPartial;
        slab.cpu = cpu;
        slab.prev = NO_SLAB;
        slab.next = pc.partial;
        pc.partial = sid;
        pc.partial_slabs += 1;
        pc.partial_pobjects += free;
        pc.partial_free += free as u64;
        slab.pslabs = pc.partial_slabs;
        slab.pobjects = pc.partial_pobjects;
    }

    /// `unfreeze_partials`: every slab of `cpu`'s partial list goes to the
    /// node list (tail), or back to the source if empty while the node has
    /// `min_partial` partial slabs.
    pub(crate) fn unfreeze_partials(&mut self, cid: u32, cpu: u32, src: &mut Option<&mut dyn PageSource>) {
        let pc = &mut cm(&mut self.caches, cid).cpus[cpu as usize];
        let mut cur = pc.partial;
        pc.partial = NO_SLAB;
        pc.partial_slabs = 0;
        pc.partial_pobjects = 0;
        pc.partial_free = 0;
        while cur != NO_SLAB {
            let next = self.slabs[cur as usize].next;
            self.slabs[cur as usize].next = NO_SLAB;
            self.node_put_unfrozen(cid, cur, src);
            cur = next;
        }
    }

    /// An unfrozen slab with free objects goes to the node list; an empty one
    /// is discarded when the node already has `min_partial` partial slabs.
    fn node_put_unfrozen(&mut self, cid: u32, sid: u32, src: &mut Option<&mut dyn PageSource>) {
        let (inuse, objects) = (self.slabs[sid as usize].inuse, self.slabs[sid as usize].objects);
        let cache = self.cache_ref(cid);
        if inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
            if let Some(src) = src.as_deref_mut() {
                self.slabs[sid as usize].state = SlabState::Unused;
                if self.discard_slab(sid, src) {
                    return;
                }
            }
        }
        let cache = cm(&mut self.caches, cid);
        if inuse == objects {
            self.slabs[sid as usize].state = SlabState::Full;
            cache.node.nr_full += 1;
        } else {
            cache.node.add_partial(&mut self.slabs, sid, true);
        }
    }

    /// `allocate_slab`: pages of order `oo` (falling back to `min`) from the
    /// reservation or the source, an arena slot, the pfn map. The slab is not
    /// on any list yet. Nothing changes on error.
    fn new_slab(&mut self, cid: u32, src: &mut dyn PageSource) -> Result<u32> {
        if self.free_slab_ids.is_empty() && self.slabs.len() >= 0x7fff_fff0 {
            return Err(MmError::CapacityExceeded { table: "slab arena", capacity: self.slabs.len() });
        }
        let cache = self.cache_ref(cid);
        let usage = cache.page_use();
        let (oo, min, red_left_pad) = (cache.oo, cache.min, cache.layout.red_left_pad);
        let (pfn, order, objects) = if let Some(pos) = self.reserved.iter().position(|r| r.cache == cid) {
            let r = self.reserved.swap_remove(pos);
            (r.pfn, r.order, r.objects)
        } else {
            self.alloc_slab_pages(oo, min, usage, src)?
        };
        if !self.pfn_range_free(pfn, order) {
            // A source handing out pages we already hold: refuse them
            // rather than corrupt the map (they are not ours to free).
            return Err(MmError::InvalidState(format!("page source returned pfn {pfn:#x}, already a slab page")));
        }
        let Some(base) = self.slab_base(pfn, order, red_left_pad) else {
            let _ = src.free_pages(pfn, order, usage);
            return Err(MmError::OutOfRange { what: "slab pfn", value: pfn, min: 0, max: u64::MAX >> PAGE_SHIFT });
        };
        let sid = match self.free_slab_ids.pop() {
            Some(id) => id,
            None => {
                self.slabs.push(Slab::unused());
                (self.slabs.len() - 1) as u32
            }
        };
        self.slabs[sid as usize].init(pfn, base, cid, order, objects);
        let pages = 1u64 << order;
        self.pfn_map.set_range(pfn, pages, PfnEntry::Slab(sid), PfnEntry::Slab(sid));
        match usage {
            PageUse::SlabReclaimable => self.pages_reclaimable += pages,
            _ => self.pages_unreclaimable += pages,
        }
        let cache = cm(&mut self.caches, cid);
        cache.node.nr_slabs += 1;
        cache.node.total_objects += objects as u64;
        Ok(sid)
    }

    fn alloc_slab_pages(
        &mut self,
        oo: super::OrderObjects,
        min: super::OrderObjects,
        usage: PageUse,
        src: &mut dyn PageSource,
    ) -> Result<(u64, u32, u32)> {
        match src.alloc_pages(oo.order, None, usage) {
            Ok(pfn) => Ok((pfn, oo.order, oo.objects)),
            Err(e) => {
                if min.order < oo.order && min.objects > 0 {
                    Ok((src.alloc_pages(min.order, None, usage)?, min.order, min.objects))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether none of the `2^order` pfns from `pfn` holds a slab or block.
    pub(crate) fn pfn_range_free(&self, pfn: u64, order: u32) -> bool {
        let Some(end) = pfn.checked_add(1u64 << order) else { return false };
        (pfn..end).all(|p| self.pfn_map.get(p) == PfnEntry::None)
            && !self.reserved.iter().any(|r| r.pfn < end && pfn < r.pfn + (1u64 << r.order))
    }

    fn slab_base(&self, pfn: u64, order: u32, red_left_pad: u32) -> Option<u64> {
        pfn.checked_mul(1 << PAGE_SHIFT)
            .and_then(|a| a.checked_add(self.config.page_offset))
            .filter(|a| a.checked_add((1u64 << (order + PAGE_SHIFT)) - 1).is_some())
            .and_then(|a| a.checked_add(red_left_pad as u64))
    }

    /// Free objects the current CPU can reach in cache `cid` without a new
    /// slab (active slab, per-cpu partial list, node partial list).
    pub(crate) fn reachable_free(&self, cid: u32) -> u64 {
        let c = self.cache_ref(cid);
        let pc = &c.cpus[self.cpu as usize];
        let active = match self.slabs.get(pc.slab as usize) {
            Some(s) => s.free_objects() as u64,
            None => 0,
        };
        active + pc.partial_free + c.node.partial_free
    }

    /// Take from the source, up front, the slabs that `count` allocations
    /// from each cache will need; all or nothing.
    pub(crate) fn reserve(&mut self, needs: &[(u32, u64)], src: &mut dyn PageSource) -> Result<()> {
        let mut total: Vec<(u32, u64)> = Vec::new();
        for &(cid, n) in needs {
            match total.iter_mut().find(|t| t.0 == cid) {
                Some(t) => t.1 += n,
                None => total.push((cid, n)),
            }
        }
        for (cid, n) in total {
            let mut have = self.reachable_free(cid);
            let c = self.cache_ref(cid);
            let (oo, min, usage) = (c.oo, c.min, c.page_use());
            while have < n {
                match self.alloc_slab_pages(oo, min, usage, src) {
                    Ok((pfn, order, objects)) if self.pfn_range_free(pfn, order) => {
                        self.reserved.push(Reserved { cache: cid, pfn, order, objects });
                        have += objects as u64;
                    }
                    Ok((pfn, _, _)) => {
                        self.release_reserved(src);
                        return Err(MmError::InvalidState(format!(
                            "page source returned pfn {pfn:#x}, already a slab page"
                        )));
                    }
                    Err(e) => {
                        self.release_reserved(src);
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Give unused reserved pages back.
    pub(crate) fn release_reserved(&mut self, src: &mut dyn PageSource) {
        for r in std::mem::take(&mut self.reserved) {
            let usage = self.cache_ref(r.cache).page_use();
            let _ = src.free_pages(r.pfn, r.order, usage);
        }
    }

    /// `discard_slab`: give an empty slab's pages back. The slab must be on
    /// no list. Returns false, changing nothing, if the source refused.
    pub(crate) fn discard_slab(&mut self, sid: u32, src: &mut dyn PageSource) -> bool {
        let (pfn, order, cid, objects) = {
            let s = &self.slabs[sid as usize];
            (s.pfn, s.order, s.cache, s.objects)
        };
        let usage = self.cache_ref(cid).page_use();
        if src.free_pages(pfn, order, usage).is_err() {
            return false;
        }
        let pages = 1u64 << order;
        self.pfn_map.clear_range(pfn, pages);
        match usage {
            PageUse::SlabReclaimable => self.pages_reclaimable -= pages,
            _ => self.pages_unreclaimable -= pages,
        }
        let cache = cm(&mut self.caches, cid);
        cache.node.nr_slabs -= 1;
        cache.node.total_objects -= objects as u64;
        let s = &mut self.slabs[sid as usize];
        s.state = SlabState::Unused;
        s.next = NO_SLAB;
        s.prev = NO_SLAB;
        self.free_slab_ids.push(sid);
        true
    }

    /// Find the slab object at `addr`: (slab id, object index). Checks only
    /// the address, not whether the object is live.
    #[inline]
    pub(crate) fn locate(&self, addr: u64) -> Result<(u32, u32)> {
        let Some(off) = addr.checked_sub(self.config.page_offset) else {
            return Err(not_an_object(addr, "none"));
        };
        match self.pfn_map.get(off >> PAGE_SHIFT) {
            PfnEntry::Slab(sid) => {
                let slab = &self.slabs[sid as usize];
                let cache = self.cache_ref(slab.cache);
                match object_index(addr, slab.base, cache.layout.size, slab.objects) {
                    Some(idx) => Ok((sid, idx)),
                    None => Err(not_an_object(addr, &cache.name)),
                }
            }
            _ => Err(not_an_object(addr, "none")),
        }
    }

    /// Free the object or large block at `addr`. With `expect`, the object
    /// must belong to that cache. Nothing changes on error.
    #[inline]
    pub(crate) fn free_addr(&mut self, addr: u64, expect: Option<u32>, src: &mut dyn PageSource) -> Result<()> {
        let Some(off) = addr.checked_sub(self.config.page_offset) else {
            return Err(not_an_object(addr, self.expect_name(expect)));
        };
        let pfn = off >> PAGE_SHIFT;
        match self.pfn_map.get(pfn) {
            PfnEntry::Slab(sid) => {
                let slab = &self.slabs[sid as usize];
                let cid = slab.cache;
                if let Some(e) = expect {
                    if e != cid {
                        return Err(MmError::InvalidState(format!(
                            "kmem_cache_free({}, {addr:#x}): the object belongs to cache {}",
                            self.expect_name(expect),
                            self.cache_ref(cid).name
                        )));
                    }
                }
                let cache = self.cache_ref(cid);
                let Some(idx) = object_index(addr, slab.base, cache.layout.size, slab.objects) else {
                    return Err(not_an_object(addr, &cache.name));
                };
                if slab.is_free(idx) {
                    return Err(MmError::ObjectDoubleFree { addr, cache: cache.name.clone() });
                }
                if self.recorder.enabled {
                    let ksize = cache.ksize() as u64;
                    self.recorder.record(SlabEventKind::Free, Some(CacheId(cid)), addr, ksize);
                }
                self.free_in_slab(cid, sid, idx, src);
                Ok(())
            }
            PfnEntry::LargeHead(order) => {
                if expect.is_some() {
                    return Err(MmError::InvalidState(format!(
                        "kmem_cache_free({}, {addr:#x}): the address is a large kmalloc block",
                        self.expect_name(expect)
                    )));
                }
                if off & ((1 << PAGE_SHIFT) - 1) != 0 {
                    return Err(not_an_object(addr, "kmalloc-large"));
                }
                src.free_pages(pfn, order, PageUse::SlabUnreclaimable)?;
                let pages = 1u64 << order;
                self.pfn_map.clear_range(pfn, pages);
                self.large_pages -= pages;
                self.large_blocks -= 1;
                self.recorder.record(SlabEventKind::Free, None, addr, pages << PAGE_SHIFT);
                Ok(())
            }
            PfnEntry::LargeTail => Err(not_an_object(addr, "kmalloc-large")),
            PfnEntry::None => Err(not_an_object(addr, self.expect_name(expect))),
        }
    }

    fn expect_name(&self, expect: Option<u32>) -> &str {
        match expect {
            Some(e) => self.caches.get(e as usize).and_then(Option::as_ref).map_or("none", |c| c.name.as_str()),
            None => "none",
        }
    }

    /// `__slab_free` after the checks: object `idx` of slab `sid` goes back.
    #[inline]
    fn free_in_slab(&mut self, cid: u32, sid: u32, idx: u32, src: &mut dyn PageSource) {
        let slab = &mut self.slabs[sid as usize];
        slab.push(idx);
        let (state, inuse, scpu) = (slab.state, slab.inuse, slab.cpu);
        let cache = cm(&mut self.caches, cid);
        cache.live_objects -= 1;
        match state {
            // Frozen slabs take the object and stay where they are.
            SlabState::Cpu => {}
            SlabState::CpuPartial => cache.cpus[scpu as usize].partial_free += 1,
            SlabState::Partial => {
                cache.node.partial_free += 1;
                if inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
                    cache.node.remove_partial(&mut self.slabs, sid);
                    self.slabs[sid as usize].state = SlabState::Unused;
                    if !self.discard_slab(sid, src) {
                        cm(&mut self.caches, cid).node.add_partial(&mut self.slabs, sid, true);
                    }
                }
            }
            SlabState::Full | SlabState::Unused => {
                cache.node.nr_full -= 1;
                if cache.has_cpu_partial {
                    let cpu = self.cpu;
                    self.put_cpu_partial(cid, cpu, sid, true, &mut Some(src));
                    return;
                }
                if inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
                    self.slabs[sid as usize].state = SlabState::Unused;
                    if self.discard_slab(sid, src) {
                        return;
                    }
                }
                cm(&mut self.caches, cid).node.add_partial(&mut self.slabs, sid, true);
            }
        }
    }

    /// `deactivate_slab` of `cpu`'s active slab: an empty one is discarded if
    /// the node has `min_partial` partial slabs, one with free objects goes
    /// to the node list tail (its free objects were on the cpu freelist), a
    /// full one is full.
    pub(crate) fn deactivate_active(&mut self, cid: u32, cpu: u32, src: &mut dyn PageSource) {
        let cache = cm(&mut self.caches, cid);
        let sid = cache.cpus[cpu as usize].slab;
        if sid == NO_SLAB {
            return;
        }
        cache.cpus[cpu as usize].slab = NO_SLAB;
        let slab = &self.slabs[sid as usize];
        if slab.inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
            self.slabs[sid as usize].state = SlabState::Unused;
            if self.discard_slab(sid, src) {
                return;
            }
            cm(&mut self.caches, cid).node.add_partial(&mut self.slabs, sid, false);
        } else if slab.inuse < slab.objects {
            cache.node.add_partial(&mut self.slabs, sid, true);
        } else {
            self.slabs[sid as usize].state = SlabState::Full;
            cache.node.nr_full += 1;
        }
    }

    /// `flush_all`: every CPU's active slab and per-cpu partial list back to
    /// the node.
    pub(crate) fn flush_all(&mut self, cid: u32, src: &mut dyn PageSource) {
        for cpu in 0..self.config.nr_cpu_ids {
            self.deactivate_active(cid, cpu, src);
            self.unfreeze_partials(cid, cpu, &mut Some(&mut *src));
        }
    }

    /// `__kmem_cache_do_shrink` after a flush: discard every empty partial
    /// slab, and sort the rest by free objects (fewest first).
    pub(crate) fn shrink_cache(&mut self, cid: u32, src: &mut dyn PageSource) -> u64 {
        let before = self.cache_ref(cid).node.nr_slabs;
        self.flush_all(cid, src);
        let ids = self.cache_ref(cid).node.partial_ids(&self.slabs);
        let mut keep: Vec<u32> = Vec::with_capacity(ids.len());
        for sid in ids {
            cm(&mut self.caches, cid).node.remove_partial(&mut self.slabs, sid);
            if self.slabs[sid as usize].inuse == 0 {
                self.slabs[sid as usize].state = SlabState::Unused;
                if self.discard_slab(sid, src) {
                    continue;
                }
            }
            keep.push(sid);
        }
        keep.sort_by_key(|&s| self.slabs[s as usize].free_objects());
        for sid in keep {
            cm(&mut self.caches, cid).node.add_partial(&mut self.slabs, sid, true);
        }
        before - self.cache_ref(cid).node.nr_slabs
    }
}
