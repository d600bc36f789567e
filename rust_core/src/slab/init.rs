//! `kmem_cache_init`: the boot caches and `create_kmalloc_caches`.

use super::cache::{calculate_alignment, CacheId, KmemCache, ARCH_KMALLOC_MINALIGN, NO_SLAB};
use super::config::SlabConfig;
use super::events::EventRecorder;
use super::flags::SlabFlags;
use super::kmalloc::{kmalloc_cache_name, kmalloc_info_size, KmallocType, KMALLOC_SHIFT_HIGH, KMALLOC_SHIFT_LOW};
use super::order::MAX_ORDER;
use super::pfnmap::PfnMap;
use super::SlabAllocator;
use crate::error::{MmError, Result};
use crate::memblock::KernelVersion;
use crate::page_source::PageSource;
use crate::units::PAGE_SIZE;

/// `create_boot_cache`'s alignment: natural for power-of-two sizes.
fn boot_align(cfg: &SlabConfig, size: u32, flags: SlabFlags) -> u32 {
    let mut align = ARCH_KMALLOC_MINALIGN;
    if size.is_power_of_two() {
        align = align.max(size);
    }
    calculate_alignment(flags, align, size, cfg.cache_line_size)
}

fn validate(cfg: &SlabConfig) -> Result<()> {
    if cfg.nr_cpu_ids == 0 || cfg.nr_cpu_ids > 8192 {
        return Err(MmError::invalid("nr_cpu_ids", format!("{} is not in 1..=8192", cfg.nr_cpu_ids)));
    }
    if cfg.nr_node_ids == 0 || cfg.nr_node_ids > 1024 {
        return Err(MmError::invalid("nr_node_ids", format!("{} is not in 1..=1024", cfg.nr_node_ids)));
    }
    if !cfg.cache_line_size.is_power_of_two() || !(8..=4096).contains(&cfg.cache_line_size) {
        return Err(MmError::invalid("cache_line_size", "not a power of two in 8..=4096"));
    }
    if cfg.slub_max_order >= MAX_ORDER || cfg.slub_min_order >= MAX_ORDER {
        return Err(MmError::invalid("slub_max_order", format!("orders must be below MAX_ORDER ({MAX_ORDER})")));
    }
    if cfg.slub_min_objects > 32767 {
        return Err(MmError::invalid("slub_min_objects", "above MAX_OBJS_PER_PAGE"));
    }
    if cfg.page_offset % PAGE_SIZE != 0 {
        return Err(MmError::invalid("page_offset", "not page aligned"));
    }
    if cfg.kmem_cache_node_size == 0 || cfg.kmem_cache_node_size > 4096 {
        return Err(MmError::invalid("kmem_cache_node_size", "not in 1..=4096"));
    }
    if cfg.kmem_cache_base_size == 0 || cfg.kmem_cache_base_size > 65536 {
        return Err(MmError::invalid("kmem_cache_base_size", "not in 1..=65536"));
    }
    if cfg.slub_debug.0 & !SlabFlags::PERMITTED.0 != 0 {
        return Err(MmError::invalid("slub_debug", "unknown flag bits"));
    }
    Ok(())
}

impl SlabAllocator {
    /// `kmem_cache_init`: create `kmem_cache_node` and `kmem_cache`, then
    /// the kmalloc caches, taking slab pages from `src`. On error the pages
    /// taken so far are given back.
    pub fn new(config: SlabConfig, src: &mut dyn PageSource) -> Result<SlabAllocator> {
        validate(&config)?;
        let mut a = SlabAllocator {
            config,
            caches: Vec::new(),
            slab_caches: Vec::new(),
            slabs: Vec::new(),
            free_slab_ids: Vec::new(),
            pfn_map: PfnMap::default(),
            kmalloc_caches: [[NO_SLAB; KMALLOC_SHIFT_HIGH as usize + 1]; 4],
            kmem_cache: NO_SLAB,
            kmem_cache_node: NO_SLAB,
            pages_reclaimable: 0,
            pages_unreclaimable: 0,
            large_pages: 0,
            large_blocks: 0,
            recorder: EventRecorder::default(),
            cpu: 0,
            reserved: Vec::new(),
        };
        if let Err(e) = a.boot(src) {
            a.release_all(src);
            return Err(e);
        }
        Ok(a)
    }

    fn boot(&mut self, src: &mut dyn PageSource) -> Result<()> {
        let cfg = self.config.clone();
        let nodes = cfg.nr_node_ids as usize;
        let bad = || MmError::InvalidState("kmem_cache_init: boot cache layout failed".into());

        // kmem_cache_node: its own per-node structures come from its first
        // slab, which then sits on the partial list (early_kmem_cache_node_alloc).
        let size = cfg.kmem_cache_node_size;
        let flags = SlabFlags::HWCACHE_ALIGN;
        let mut kcn =
            KmemCache::build(&cfg, "kmem_cache_node", size, boot_align(&cfg, size, flags), flags, false, 0, 0)
                .ok_or_else(bad)?;
        kcn.refcount = -1;
        kcn.is_boot = true;
        self.caches.push(Some(kcn));
        self.kmem_cache_node = 0;
        let mut kcn_nodes = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            kcn_nodes.push(self.alloc_obj(0, src)?);
        }
        self.deactivate_active(0, 0, src);

        // kmem_cache: sized for nr_node_ids node pointers.
        let size = cfg.kmem_cache_base_size + 8 * cfg.nr_node_ids;
        let mut kc = KmemCache::build(&cfg, "kmem_cache", size, boot_align(&cfg, size, flags), flags, false, 0, 0)
            .ok_or_else(bad)?;
        kc.refcount = -1;
        kc.is_boot = true;
        self.caches.push(Some(kc));
        self.kmem_cache = 1;
        let mut kc_nodes = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            kc_nodes.push(self.alloc_obj(0, src)?);
        }
        // bootstrap(): both get a kmem_cache object; each goes to the head of
        // slab_caches, kmem_cache first.
        let kc_meta = self.alloc_obj(1, src)?;
        let kcn_meta = self.alloc_obj(1, src)?;
        {
            let c = self.cache_mut_unchecked(1);
            c.meta_object = kc_meta;
            c.node_objects = kc_nodes;
        }
        {
            let c = self.cache_mut_unchecked(0);
            c.meta_object = kcn_meta;
            c.node_objects = kcn_nodes;
        }
        self.slab_caches.push(1);
        self.slab_caches.push(0);

        self.create_kmalloc_caches(src)
    }

    fn new_kmalloc_cache(&mut self, src: &mut dyn PageSource, idx: u32, ty: KmallocType) -> Result<()> {
        let cfg = &self.config;
        let mut flags = SlabFlags::NONE;
        match ty {
            KmallocType::Reclaim => flags |= SlabFlags::RECLAIM_ACCOUNT,
            KmallocType::Cgroup => {
                if cfg.memcg_nokmem {
                    self.kmalloc_caches[ty as usize][idx as usize] = self.kmalloc_caches[0][idx as usize];
                    return Ok(());
                }
                flags |= SlabFlags::ACCOUNT;
            }
            KmallocType::Dma => flags |= SlabFlags::CACHE_DMA,
            KmallocType::Normal => {}
        }
        if cfg.version == KernelVersion::V6_1 {
            flags |= SlabFlags::KMALLOC;
        }
        let size = kmalloc_info_size(idx);
        let align = boot_align(cfg, size, flags);
        let name = kmalloc_cache_name(ty, idx);
        let id = self.create_cache(src, &name, size, align, flags, false, 0, size, true)?;
        if ty == KmallocType::Normal && self.config.memcg_kmem {
            self.cache_mut_unchecked(id.0).refcount = -1;
        }
        self.kmalloc_caches[ty as usize][idx as usize] = id.0;
        Ok(())
    }

    /// `create_kmalloc_caches`: per type, kmalloc-8 .. kmalloc-8k with 96
    /// after 64 and 192 after 128. 5.14 creates the DMA caches afterwards
    /// in index order (96, 192, 8, ...); 6.1 in the same loop as the others.
    fn create_kmalloc_caches(&mut self, src: &mut dyn PageSource) -> Result<()> {
        let mut types = vec![KmallocType::Normal];
        if self.config.memcg_kmem {
            types.push(KmallocType::Cgroup);
        }
        types.push(KmallocType::Reclaim);
        let dma_in_loop = self.config.version == KernelVersion::V6_1;
        if self.config.zone_dma && dma_in_loop {
            types.push(KmallocType::Dma);
        }
        for ty in types {
            for i in KMALLOC_SHIFT_LOW..=KMALLOC_SHIFT_HIGH {
                self.new_kmalloc_cache(src, i, ty)?;
                if i == 6 {
                    self.new_kmalloc_cache(src, 1, ty)?;
                }
                if i == 7 {
                    self.new_kmalloc_cache(src, 2, ty)?;
                }
            }
        }
        if self.config.zone_dma && !dma_in_loop {
            for i in 1..=KMALLOC_SHIFT_HIGH {
                self.new_kmalloc_cache(src, i, KmallocType::Dma)?;
            }
        }
        // init_freelist_randomization: every cache, newest first.
        if self.config.freelist_random {
            let order: Vec<u32> = self.slab_caches.iter().rev().copied().collect();
            for cid in order {
                let objects = self.cache_ref(cid).oo.objects as u64;
                let addr = self.alloc_random_seq(4 * objects, src)?;
                self.cache_mut_unchecked(cid).random_seq = addr;
            }
        }
        // Types the configuration lacks fall back to the normal caches.
        for ty in [KmallocType::Cgroup, KmallocType::Dma] {
            for i in 0..=KMALLOC_SHIFT_HIGH as usize {
                if self.kmalloc_caches[ty as usize][i] == NO_SLAB {
                    self.kmalloc_caches[ty as usize][i] = self.kmalloc_caches[0][i];
                }
            }
        }
        Ok(())
    }

    /// Give every slab page back (failed boot).
    fn release_all(&mut self, src: &mut dyn PageSource) {
        for sid in 0..self.slabs.len() as u32 {
            let s = &self.slabs[sid as usize];
            if s.state != super::slab::SlabState::Unused {
                let usage = self.cache_ref(s.cache).page_use();
                let _ = src.free_pages(s.pfn, s.order, usage);
            }
        }
    }

    /// Handle of a kmalloc cache by type and index.
    pub fn kmalloc_cache(&self, ty: KmallocType, index: u32) -> Option<CacheId> {
        let id = *self.kmalloc_caches.get(ty as usize)?.get(index as usize)?;
        (id != NO_SLAB).then_some(CacheId(id))
    }
}
