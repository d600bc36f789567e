//! Allocation and free paths: cpu slab fast path, refill from the partial
//! list, new slabs from the page source; frees with double-free and
//! wrong-address detection; discarding empty slabs; flush, shrink, destroy.

use super::cache::{CacheId, NO_SLAB};
use super::events::SlabEventKind;
use super::pfnmap::PfnEntry;
use super::slab::{Slab, SlabState};
use super::SlabAllocator;
use crate::error::{MmError, Result};
use crate::page_source::{PageSource, PageUse};
use crate::units::PAGE_SHIFT;

/// What an allocation changed besides taking an object, so that it can be
/// undone exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllocPath {
    /// Object taken from the cpu slab.
    Fast,
    /// The full cpu slab `old` (or none) was retired and the head of the
    /// partial list became the cpu slab.
    FromPartial { old: u32 },
    /// The full cpu slab `old` (or none) was retired for a new slab.
    NewSlab { old: u32 },
}

impl SlabAllocator {
    /// Allocate one object from cache `cid` (which must be live).
    #[inline]
    pub(crate) fn alloc_obj(&mut self, cid: u32, src: &mut dyn PageSource) -> Result<(u64, AllocPath)> {
        let Some(Some(cache)) = self.caches.get_mut(cid as usize) else {
            return Err(MmError::invalid("cache", format!("no live cache with id {cid}")));
        };
        let sid = cache.cpu_slab;
        if sid != NO_SLAB {
            if let Some(slab) = self.slabs.get_mut(sid as usize) {
                if let Some(idx) = slab.pop() {
                    cache.live_objects += 1;
                    return Ok((slab.base + idx as u64 * cache.layout.size as u64, AllocPath::Fast));
                }
            }
        }
        self.alloc_slow(cid, src)
    }

    #[cold]
    fn alloc_slow(&mut self, cid: u32, src: &mut dyn PageSource) -> Result<(u64, AllocPath)> {
        let head = self.cache_ref(cid).node.head;
        if head != NO_SLAB {
            let old = self.retire_cpu_slab(cid);
            let cache = cm(&mut self.caches, cid);
            cache.node.remove_partial(&mut self.slabs, head);
            cache.cpu_slab = head;
            let slab = &mut self.slabs[head as usize];
            slab.state = SlabState::Cpu;
            let idx = slab.pop().ok_or_else(|| MmError::InvalidState("partial slab without free objects".into()))?;
            cache.live_objects += 1;
            return Ok((slab.base + idx as u64 * cache.layout.size as u64, AllocPath::FromPartial { old }));
        }
        let sid = self.new_slab(cid, src)?;
        let old = self.retire_cpu_slab(cid);
        let cache = cm(&mut self.caches, cid);
        cache.cpu_slab = sid;
        let slab = &mut self.slabs[sid as usize];
        let idx = slab.pop().ok_or_else(|| MmError::InvalidState("new slab without objects".into()))?;
        cache.live_objects += 1;
        Ok((slab.base + idx as u64 * cache.layout.size as u64, AllocPath::NewSlab { old }))
    }

    /// Undo an allocation made by [`Self::alloc_obj`] (used when a compound
    /// operation fails half way).
    pub(crate) fn undo_alloc(&mut self, cid: u32, addr: u64, path: AllocPath, src: &mut dyn PageSource) {
        let sid = self.cache_ref(cid).cpu_slab;
        if sid == NO_SLAB {
            return;
        }
        let (base, size) = (self.slabs[sid as usize].base, self.cache_ref(cid).layout.size as u64);
        let idx = ((addr - base) / size) as u32;
        self.slabs[sid as usize].push(idx);
        cm(&mut self.caches, cid).live_objects -= 1;
        let restore_old = |this: &mut Self, old: u32| {
            if old != NO_SLAB {
                this.slabs[old as usize].state = SlabState::Cpu;
                let c = cm(&mut this.caches, cid);
                c.node.nr_full -= 1;
                c.cpu_slab = old;
            } else {
                cm(&mut this.caches, cid).cpu_slab = NO_SLAB;
            }
        };
        match path {
            AllocPath::Fast => {}
            AllocPath::FromPartial { old } => {
                let c = cm(&mut self.caches, cid);
                c.node.add_partial(&mut self.slabs, sid, false);
                restore_old(self, old);
            }
            AllocPath::NewSlab { old } => {
                restore_old(self, old);
                if !self.discard_slab(sid, src) {
                    let c = cm(&mut self.caches, cid);
                    c.node.add_partial(&mut self.slabs, sid, false);
                }
            }
        }
    }

    #[inline]
    pub(crate) fn cache_ref(&self, cid: u32) -> &super::KmemCache {
        match self.caches.get(cid as usize) {
            Some(Some(c)) => c,
            _ => unreachable_cache(),
        }
    }

    #[inline]
    pub(crate) fn cache_mut_unchecked(&mut self, cid: u32) -> &mut super::KmemCache {
        cm(&mut self.caches, cid)
    }

    /// The cpu slab is exhausted: it becomes a full slab (or, should it
    /// still have objects, goes to the partial list). Returns its id.
    fn retire_cpu_slab(&mut self, cid: u32) -> u32 {
        let cache = cm(&mut self.caches, cid);
        let sid = cache.cpu_slab;
        if sid == NO_SLAB {
            return NO_SLAB;
        }
        cache.cpu_slab = NO_SLAB;
        let slab = &mut self.slabs[sid as usize];
        if slab.inuse == slab.objects {
            slab.state = SlabState::Full;
            cache.node.nr_full += 1;
        } else {
            cache.node.add_partial(&mut self.slabs, sid, true);
        }
        sid
    }

    /// `allocate_slab`: pages of order `oo` (falling back to `min`) from the
    /// source, an arena slot, the pfn map. Nothing changes on error.
    fn new_slab(&mut self, cid: u32, src: &mut dyn PageSource) -> Result<u32> {
        if self.free_slab_ids.is_empty() && self.slabs.len() >= 0x7fff_fff0 {
            return Err(MmError::CapacityExceeded { table: "slab arena", capacity: self.slabs.len() });
        }
        let cache = self.cache_ref(cid);
        let usage = cache.page_use();
        let (oo, min, red_left_pad) = (cache.oo, cache.min, cache.layout.red_left_pad);
        let (pfn, order, objects) = match src.alloc_pages(oo.order, None, usage) {
            Ok(pfn) => (pfn, oo.order, oo.objects),
            Err(e) => {
                if min.order < oo.order && min.objects > 0 {
                    (src.alloc_pages(min.order, None, usage)?, min.order, min.objects)
                } else {
                    return Err(e);
                }
            }
        };
        let base = pfn
            .checked_mul(1 << PAGE_SHIFT)
            .and_then(|a| a.checked_add(self.config.page_offset))
            .and_then(|a| a.checked_add(red_left_pad as u64))
            .filter(|a| a.checked_add((1u64 << (order + PAGE_SHIFT)) - 1).is_some());
        let Some(base) = base else {
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

    /// `discard_slab`: give an empty slab's pages back. The slab must be on
    /// no list (not cpu, not partial). Returns false, changing nothing, if
    /// the source refused the pages.
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
                let size = cache.layout.size as u64;
                let Some(rel) = addr.checked_sub(slab.base) else {
                    return Err(not_an_object(addr, &cache.name));
                };
                let idx = rel / size;
                if rel % size != 0 || idx >= slab.objects as u64 {
                    return Err(not_an_object(addr, &cache.name));
                }
                Ok((sid, idx as u32))
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
                let size = cache.layout.size as u64;
                let rel = match addr.checked_sub(slab.base) {
                    Some(r) if r % size == 0 && r / size < slab.objects as u64 => r,
                    _ => return Err(not_an_object(addr, &cache.name)),
                };
                let idx = (rel / size) as u32;
                if slab.is_free(idx) {
                    return Err(MmError::ObjectDoubleFree { addr, cache: cache.name.clone() });
                }
                let ksize = cache.ksize() as u64;
                self.free_in_slab(cid, sid, idx, src);
                self.recorder.record(SlabEventKind::Free, Some(CacheId(cid)), addr, ksize);
                Ok(())
            }
            PfnEntry::LargeHead(order) => {
                if let Some(e) = expect {
                    let _ = e;
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
                let size = pages << PAGE_SHIFT;
                self.recorder.record(SlabEventKind::Free, None, addr, size);
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
        let was_full = slab.inuse == slab.objects;
        slab.push(idx);
        let (state, inuse) = (slab.state, slab.inuse);
        let cache = cm(&mut self.caches, cid);
        cache.live_objects -= 1;
        match state {
            SlabState::Cpu => {}
            SlabState::Partial => {
                cache.node.partial_free += 1;
                if inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
                    // Pages first: if the source refuses them the slab stays.
                    let objects = self.slabs[sid as usize].objects;
                    let cache = cm(&mut self.caches, cid);
                    cache.node.remove_partial(&mut self.slabs, sid);
                    if !self.discard_slab(sid, src) {
                        let _ = objects;
                        let cache = cm(&mut self.caches, cid);
                        cache.node.add_partial(&mut self.slabs, sid, true);
                    }
                }
            }
            SlabState::Full | SlabState::Unused => {
                debug_assert!(was_full);
                cache.node.nr_full -= 1;
                if inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
                    self.slabs[sid as usize].state = SlabState::Unused;
                    if self.discard_slab(sid, src) {
                        return;
                    }
                }
                let cache = cm(&mut self.caches, cid);
                cache.node.add_partial(&mut self.slabs, sid, true);
            }
        }
    }

    /// `deactivate_slab` of the cpu slab (`flush_slab`): an empty one is
    /// discarded if the node has `min_partial` partial slabs, else it goes to
    /// the partial list like any slab with free objects; a full one is full.
    pub(crate) fn flush_cpu_slab(&mut self, cid: u32, src: &mut dyn PageSource) {
        let cache = cm(&mut self.caches, cid);
        let sid = cache.cpu_slab;
        if sid == NO_SLAB {
            return;
        }
        cache.cpu_slab = NO_SLAB;
        let slab = &self.slabs[sid as usize];
        if slab.inuse == 0 && cache.node.nr_partial >= cache.min_partial as u64 {
            self.slabs[sid as usize].state = SlabState::Unused;
            if self.discard_slab(sid, src) {
                return;
            }
            let cache = cm(&mut self.caches, cid);
            cache.node.add_partial(&mut self.slabs, sid, true);
        } else if slab.inuse < slab.objects {
            cache.node.add_partial(&mut self.slabs, sid, false);
        } else {
            self.slabs[sid as usize].state = SlabState::Full;
            cache.node.nr_full += 1;
        }
    }

    /// `__kmem_cache_do_shrink` after a flush: discard every empty partial
    /// slab, and sort the rest by free objects (fewest first).
    pub(crate) fn shrink_cache(&mut self, cid: u32, src: &mut dyn PageSource) -> u64 {
        self.flush_cpu_slab(cid, src);
        let ids = self.cache_ref(cid).node.partial_ids(&self.slabs);
        let mut freed = 0;
        let mut keep: Vec<u32> = Vec::with_capacity(ids.len());
        for sid in ids {
            let cache = cm(&mut self.caches, cid);
            cache.node.remove_partial(&mut self.slabs, sid);
            if self.slabs[sid as usize].inuse == 0 {
                self.slabs[sid as usize].state = SlabState::Unused;
                if self.discard_slab(sid, src) {
                    freed += 1;
                    continue;
                }
            }
            keep.push(sid);
        }
        keep.sort_by_key(|&s| self.slabs[s as usize].free_objects());
        for sid in keep {
            let cache = cm(&mut self.caches, cid);
            cache.node.add_partial(&mut self.slabs, sid, true);
        }
        freed
    }
}

/// The live cache `cid` (internal ids always name live caches).
#[inline]
pub(crate) fn cm(caches: &mut [Option<super::KmemCache>], cid: u32) -> &mut super::KmemCache {
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

pub(crate) fn not_an_object(addr: u64, cache: &str) -> MmError {
    MmError::NotAnObject { addr, cache: cache.to_string() }
}
