//! Cache creation with merging (`kmem_cache_create_usercopy`,
//! `__kmem_cache_alias`, `find_mergeable`), `kmem_cache_alloc/free`,
//! `kmem_cache_destroy` and `kmem_cache_shrink`.

use super::cache::{calculate_alignment, CacheId, KmemCache, WORD};
use super::events::SlabEventKind;
use super::flags::SlabFlags;
use super::kmalloc::KMALLOC_MAX_SIZE;
use super::SlabAllocator;
use crate::error::{MmError, Result};
use crate::page_source::PageSource;

impl SlabAllocator {
    /// kcalloc of a `random_seq` array, not reported to the event recorder.
    pub(crate) fn alloc_random_seq(&mut self, size: u64, src: &mut dyn PageSource) -> Result<u64> {
        if size > super::kmalloc::KMALLOC_MAX_CACHE_SIZE {
            let recording = std::mem::replace(&mut self.recorder.enabled, false);
            let r = self.kmalloc_large(src, size);
            self.recorder.enabled = recording;
            return r;
        }
        let idx = super::kmalloc::kmalloc_index(size.max(1)) as usize;
        let cid = self.kmalloc_caches[0][idx];
        self.alloc_obj(cid, src)
    }

    /// `kmem_cache_create(name, size, align, flags, ctor)`: a new cache, or
    /// an existing compatible one (merged: its refcount goes up and the same
    /// handle comes back).
    pub fn kmem_cache_create(
        &mut self,
        src: &mut dyn PageSource,
        name: &str,
        size: u32,
        align: u32,
        flags: SlabFlags,
        has_ctor: bool,
    ) -> Result<CacheId> {
        self.kmem_cache_create_usercopy(src, name, size, align, flags, 0, 0, has_ctor)
    }

    /// `kmem_cache_create_usercopy`: as [`Self::kmem_cache_create`] with a
    /// hardened-usercopy region; a cache with one never merges. A region
    /// that does not fit in the object is dropped, as the kernel does.
    #[allow(clippy::too_many_arguments)]
    pub fn kmem_cache_create_usercopy(
        &mut self,
        src: &mut dyn PageSource,
        name: &str,
        size: u32,
        align: u32,
        flags: SlabFlags,
        useroffset: u32,
        usersize: u32,
        has_ctor: bool,
    ) -> Result<CacheId> {
        if name.is_empty() {
            return Err(MmError::invalid("name", "empty cache name"));
        }
        if size == 0 || size as u64 > KMALLOC_MAX_SIZE {
            return Err(MmError::invalid("size", format!("{size} is not in 1..={KMALLOC_MAX_SIZE}")));
        }
        if align != 0 && (!align.is_power_of_two() || align as u64 > crate::units::PAGE_SIZE) {
            return Err(MmError::invalid("align", format!("{align} is not 0 or a power of two up to 4096")));
        }
        if flags.0 & !SlabFlags::PERMITTED.0 != 0 {
            return Err(MmError::invalid("flags", format!("{:#x} has bits outside SLAB_FLAGS_PERMITTED", flags.0)));
        }
        // As the kernel (with a WARN): a region outside the object is dropped.
        let (useroffset, usersize) =
            if useroffset.checked_add(usersize).is_none_or(|end| end > size) || (usersize == 0 && useroffset != 0) {
                (0, 0)
            } else {
                (useroffset, usersize)
            };
        if usersize == 0 {
            if let Some(cid) = self.find_mergeable(size, align, flags, has_ctor) {
                let cache = self.cache_mut_unchecked(cid);
                cache.refcount += 1;
                cache.layout.object_size = cache.layout.object_size.max(size);
                cache.layout.inuse = cache.layout.inuse.max(size.next_multiple_of(WORD));
                cache.aliases.push(name.to_string());
                return Ok(CacheId(cid));
            }
        }
        let align = calculate_alignment(flags, align, size, self.config.cache_line_size);
        self.create_cache(src, name, size, align, flags, has_ctor, useroffset, usersize, false)
    }

    /// `find_mergeable`: the oldest live cache this request can share.
    pub(crate) fn find_mergeable(&self, size: u32, align: u32, flags: SlabFlags, has_ctor: bool) -> Option<u32> {
        if self.config.slab_nomerge || has_ctor {
            return None;
        }
        let size = size.checked_next_multiple_of(WORD)?;
        let align = calculate_alignment(flags, align, size, self.config.cache_line_size);
        let size = size.checked_next_multiple_of(align)?;
        let flags = flags | self.config.slub_debug;
        if flags.intersects(SlabFlags::NEVER_MERGE) {
            return None;
        }
        for &cid in &self.slab_caches {
            let Some(Some(s)) = self.caches.get(cid as usize) else { continue };
            if s.unmergeable(self.config.slab_nomerge) {
                continue;
            }
            let ssize = s.layout.size;
            if size > ssize {
                continue;
            }
            if (flags & SlabFlags::MERGE_SAME) != (s.flags & SlabFlags::MERGE_SAME) {
                continue;
            }
            if ssize & !(align - 1) != ssize {
                continue;
            }
            if ssize - size >= WORD {
                continue;
            }
            return Some(cid);
        }
        None
    }

    /// `create_cache`: build the cache, take its `kmem_cache` object and one
    /// `kmem_cache_node` object per node, add it to `slab_caches`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_cache(
        &mut self,
        src: &mut dyn PageSource,
        name: &str,
        size: u32,
        align: u32,
        flags: SlabFlags,
        has_ctor: bool,
        useroffset: u32,
        usersize: u32,
        is_boot: bool,
    ) -> Result<CacheId> {
        let Some(mut cache) = KmemCache::build(&self.config, name, size, align, flags, has_ctor, useroffset, usersize)
        else {
            return Err(MmError::invalid("size", format!("no slab layout for {size} bytes aligned {align}")));
        };
        cache.is_boot = is_boot;
        if self.caches.len() >= u32::MAX as usize - 1 {
            return Err(MmError::CapacityExceeded { table: "slab caches", capacity: self.caches.len() });
        }
        // Metadata: the kmem_cache object, the random_seq array (kmalloc,
        // once the kmalloc caches exist), the kmem_cache_node objects. The
        // slabs they need are reserved first, so that either all of it
        // happens or nothing does.
        let seq_size = (self.config.freelist_random && !is_boot).then(|| 4 * cache.oo.objects as u64);
        let mut needs = vec![(self.kmem_cache, 1), (self.kmem_cache_node, self.config.nr_node_ids as u64)];
        let mut large_seq = 0;
        if let Some(size) = seq_size {
            if size > super::kmalloc::KMALLOC_MAX_CACHE_SIZE {
                large_seq = self.alloc_random_seq(size, src)?;
            } else {
                needs.push((self.kmalloc_caches[0][super::kmalloc::kmalloc_index(size) as usize], 1));
            }
        }
        let made = self.reserve(&needs, src).and_then(|()| {
            let meta = self.alloc_obj(self.kmem_cache, src)?;
            let seq = match seq_size {
                Some(_) if large_seq != 0 => large_seq,
                Some(size) => self.alloc_random_seq(size, src)?,
                None => 0,
            };
            let mut nodes = Vec::with_capacity(self.config.nr_node_ids as usize);
            for _ in 0..self.config.nr_node_ids {
                nodes.push(self.alloc_obj(self.kmem_cache_node, src)?);
            }
            Ok((meta, seq, nodes))
        });
        self.release_reserved(src);
        let (meta, seq, nodes) = match made {
            Ok(m) => m,
            Err(e) => {
                if large_seq != 0 {
                    let recording = std::mem::replace(&mut self.recorder.enabled, false);
                    let _ = self.free_addr(large_seq, None, src);
                    self.recorder.enabled = recording;
                }
                return Err(e);
            }
        };
        cache.meta_object = meta;
        cache.random_seq = seq;
        cache.node_objects = nodes;
        let id = self.caches.len() as u32;
        self.caches.push(Some(cache));
        self.slab_caches.push(id);
        Ok(CacheId(id))
    }

    /// `kmem_cache_alloc(cache)`: one object.
    #[inline]
    pub fn kmem_cache_alloc(&mut self, src: &mut dyn PageSource, cache: CacheId) -> Result<u64> {
        let addr = self.alloc_obj(cache.0, src)?;
        if self.recorder.enabled {
            let size = self.cache_ref(cache.0).layout.object_size as u64;
            self.recorder.record(SlabEventKind::Alloc, Some(cache), addr, size);
        }
        Ok(addr)
    }

    /// `kmem_cache_free(cache, addr)`: the object must be a live object of
    /// `cache` (InvalidState for another cache's object, NotAnObject for
    /// an address that is not an object start, ObjectDoubleFree for a free
    /// object).
    #[inline]
    pub fn kmem_cache_free(&mut self, src: &mut dyn PageSource, cache: CacheId, addr: u64) -> Result<()> {
        if self.cache(cache).is_none() {
            return Err(MmError::invalid("cache", format!("no live cache with id {}", cache.0)));
        }
        self.free_addr(addr, Some(cache.0), src)
    }

    /// `kmem_cache_shrink`: flush the cpu slab and give back every empty
    /// slab. Returns the number of slabs freed.
    pub fn kmem_cache_shrink(&mut self, src: &mut dyn PageSource, cache: CacheId) -> Result<u64> {
        self.live_cache(cache)?;
        Ok(self.shrink_cache(cache.0, src))
    }

    /// `kmem_cache_destroy`: drop one reference; the last one frees the
    /// cache's slabs and metadata. InvalidState (nothing changed) if objects
    /// are live, or for the boot and kmalloc caches.
    pub fn kmem_cache_destroy(&mut self, src: &mut dyn PageSource, cache: CacheId) -> Result<()> {
        let c = self.live_cache(cache)?;
        if c.is_boot {
            return Err(MmError::InvalidState(format!(
                "kmem_cache_destroy {}: boot caches cannot be destroyed",
                c.name
            )));
        }
        if c.refcount > 1 {
            let c = self.cache_mut_unchecked(cache.0);
            c.refcount -= 1;
            c.aliases.pop();
            return Ok(());
        }
        if c.live_objects != 0 {
            return Err(MmError::InvalidState(format!(
                "kmem_cache_destroy {}: Slab cache still has objects ({} live)",
                c.name, c.live_objects
            )));
        }
        self.shrink_cache(cache.0, src);
        let c = self.cache_ref(cache.0);
        if c.node.nr_slabs != 0 {
            return Err(MmError::InvalidState(format!(
                "kmem_cache_destroy {}: the page source refused {} slabs back",
                c.name, c.node.nr_slabs
            )));
        }
        let meta = c.meta_object;
        let seq = c.random_seq;
        let nodes = c.node_objects.clone();
        let (kc, kcn) = (self.kmem_cache, self.kmem_cache_node);
        // Metadata objects were never reported as allocations: keep their
        // frees out of the event stream too.
        let recording = std::mem::replace(&mut self.recorder.enabled, false);
        for addr in nodes {
            let _ = self.free_addr(addr, Some(kcn), src);
        }
        if seq != 0 {
            let _ = self.free_addr(seq, None, src);
        }
        if meta != 0 {
            let _ = self.free_addr(meta, Some(kc), src);
        }
        self.recorder.enabled = recording;
        self.caches[cache.0 as usize] = None;
        self.slab_caches.retain(|&i| i != cache.0);
        Ok(())
    }
}
