//! kmalloc: size classes (`kmalloc_info`, `size_index`, `kmalloc_index`),
//! cache types (`kmalloc_type`), kmalloc/kfree/ksize/krealloc and the
//! large allocations that go straight to the page source.

use super::alloc::not_an_object;
use super::cache::{CacheId, NO_SLAB};
use super::events::SlabEventKind;
use super::flags::Gfp;
use super::order::{get_order, MAX_ORDER};
use super::pfnmap::PfnEntry;
use super::SlabAllocator;
use crate::error::{MmError, Result};
use crate::page_source::{PageSource, PageUse};
use crate::units::PAGE_SHIFT;

/// `KMALLOC_SHIFT_LOW` of SLUB on x86_64 (kmalloc-8).
pub const KMALLOC_SHIFT_LOW: u32 = 3;
/// `KMALLOC_SHIFT_HIGH` of SLUB: `PAGE_SHIFT + 1` (kmalloc-8k).
pub const KMALLOC_SHIFT_HIGH: u32 = PAGE_SHIFT + 1;
/// `KMALLOC_MAX_CACHE_SIZE`: larger requests bypass the caches.
pub const KMALLOC_MAX_CACHE_SIZE: u64 = 1 << KMALLOC_SHIFT_HIGH;
/// `KMALLOC_MAX_SIZE`: the largest kmalloc (`MAX_ORDER - 1 + PAGE_SHIFT`).
pub const KMALLOC_MAX_SIZE: u64 = 1 << (MAX_ORDER - 1 + PAGE_SHIFT);
/// `ZERO_SIZE_PTR`: what kmalloc(0) returns.
pub const ZERO_SIZE_PTR: u64 = 16;
/// Number of kmalloc cache types.
pub const NR_KMALLOC_TYPES: usize = 4;

/// `enum kmalloc_cache_type`, in the kernel's order (with CONFIG_ZONE_DMA and
/// CONFIG_MEMCG_KMEM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KmallocType {
    /// `kmalloc-*`.
    Normal = 0,
    /// `kmalloc-cg-*` (`__GFP_ACCOUNT`).
    Cgroup = 1,
    /// `kmalloc-rcl-*` (`__GFP_RECLAIMABLE`).
    Reclaim = 2,
    /// `dma-kmalloc-*` (`__GFP_DMA`).
    Dma = 3,
}

impl KmallocType {
    /// All types, in creation order.
    pub const ALL: [KmallocType; 4] =
        [KmallocType::Normal, KmallocType::Cgroup, KmallocType::Reclaim, KmallocType::Dma];

    /// The name prefix of the type's caches.
    pub fn prefix(self) -> &'static str {
        match self {
            KmallocType::Normal => "kmalloc-",
            KmallocType::Cgroup => "kmalloc-cg-",
            KmallocType::Reclaim => "kmalloc-rcl-",
            KmallocType::Dma => "dma-kmalloc-",
        }
    }
}

/// `kmalloc_info[i].size`: 96 and 192 at indices 1 and 2, else 2^i.
pub const fn kmalloc_info_size(index: u32) -> u32 {
    match index {
        0 => 0,
        1 => 96,
        2 => 192,
        i => 1 << i,
    }
}

/// `kmalloc_info[i].name[type]`: "kmalloc-96", "kmalloc-rcl-1k", ...
pub fn kmalloc_cache_name(ty: KmallocType, index: u32) -> String {
    let size = kmalloc_info_size(index);
    let short = if size >= 1024 * 1024 {
        format!("{}M", size >> 20)
    } else if size >= 1024 {
        format!("{}k", size >> 10)
    } else {
        size.to_string()
    };
    format!("{}{}", ty.prefix(), short)
}

/// `size_index`: kmalloc index of sizes 1..=192 in steps of 8.
const SIZE_INDEX: [u8; 24] = [3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2];

/// `kmalloc_slab`'s index for `size` in 1..=KMALLOC_MAX_CACHE_SIZE.
#[inline]
pub const fn kmalloc_index(size: u64) -> u32 {
    if size <= 192 {
        SIZE_INDEX[((size.saturating_sub(1)) / 8) as usize] as u32
    } else {
        64 - (size - 1).leading_zeros()
    }
}

impl SlabAllocator {
    /// `kmalloc_type`: DMA first, then reclaimable, then accounted.
    #[inline]
    pub fn kmalloc_type(&self, gfp: Gfp) -> KmallocType {
        if gfp.0 & (Gfp::RECLAIMABLE.0 | Gfp::DMA.0 | Gfp::ACCOUNT.0) == 0 {
            return KmallocType::Normal;
        }
        self.kmalloc_type_slow(gfp)
    }

    #[cold]
    fn kmalloc_type_slow(&self, gfp: Gfp) -> KmallocType {
        let mut not_normal = Gfp::RECLAIMABLE.0;
        if self.config.zone_dma {
            not_normal |= Gfp::DMA.0;
        }
        if self.config.memcg_kmem {
            not_normal |= Gfp::ACCOUNT.0;
        }
        if gfp.0 & not_normal == 0 {
            return KmallocType::Normal;
        }
        if self.config.zone_dma && gfp.contains(Gfp::DMA) {
            KmallocType::Dma
        } else if !self.config.memcg_kmem || gfp.contains(Gfp::RECLAIMABLE) {
            KmallocType::Reclaim
        } else {
            KmallocType::Cgroup
        }
    }

    /// The kmalloc cache serving `size` bytes with `gfp` (`kmalloc_slab`);
    /// `None` for 0 and for sizes above KMALLOC_MAX_CACHE_SIZE.
    pub fn kmalloc_slab(&self, size: u64, gfp: Gfp) -> Option<CacheId> {
        if size == 0 || size > KMALLOC_MAX_CACHE_SIZE {
            return None;
        }
        let id = self.kmalloc_caches[self.kmalloc_type(gfp) as usize][kmalloc_index(size) as usize];
        (id != NO_SLAB).then_some(CacheId(id))
    }

    /// `kmalloc(size, gfp)`: an object of at least `size` bytes. 0 bytes give
    /// [`ZERO_SIZE_PTR`]; above [`KMALLOC_MAX_CACHE_SIZE`] whole pages come
    /// from the source (`kmalloc_large`); above [`KMALLOC_MAX_SIZE`] it fails.
    #[inline]
    pub fn kmalloc(&mut self, src: &mut dyn PageSource, size: u64, gfp: Gfp) -> Result<u64> {
        if size == 0 {
            return Ok(ZERO_SIZE_PTR);
        }
        if size > KMALLOC_MAX_CACHE_SIZE {
            return self.kmalloc_large(src, size);
        }
        let cid = self.kmalloc_caches[self.kmalloc_type(gfp) as usize][kmalloc_index(size) as usize];
        let addr = self.alloc_obj(cid, src)?;
        if self.recorder.enabled {
            self.recorder.record(SlabEventKind::Alloc, Some(CacheId(cid)), addr, size);
        }
        Ok(addr)
    }

    /// `kmalloc_large`: `2^get_order(size)` pages, counted as SUnreclaim.
    pub fn kmalloc_large(&mut self, src: &mut dyn PageSource, size: u64) -> Result<u64> {
        if size > KMALLOC_MAX_SIZE {
            return Err(MmError::OutOfMemory { request: format!("kmalloc of {size} bytes (above KMALLOC_MAX_SIZE)") });
        }
        let order = get_order(size.max(1));
        let pfn = src.alloc_pages(order, None, PageUse::SlabUnreclaimable)?;
        if !self.pfn_range_free(pfn, order) {
            return Err(MmError::InvalidState(format!("page source returned pfn {pfn:#x}, already a slab page")));
        }
        let pages = 1u64 << order;
        let addr = pfn
            .checked_mul(1 << PAGE_SHIFT)
            .and_then(|a| a.checked_add(self.config.page_offset))
            .filter(|a| a.checked_add((pages << PAGE_SHIFT) - 1).is_some());
        let Some(addr) = addr else {
            let _ = src.free_pages(pfn, order, PageUse::SlabUnreclaimable);
            return Err(MmError::OutOfRange {
                what: "kmalloc_large pfn",
                value: pfn,
                min: 0,
                max: u64::MAX >> PAGE_SHIFT,
            });
        };
        self.pfn_map.set_range(pfn, pages, PfnEntry::LargeHead(order), PfnEntry::LargeTail);
        self.large_pages += pages;
        self.large_blocks += 1;
        self.recorder.record(SlabEventKind::Alloc, None, addr, size);
        Ok(addr)
    }

    /// `kfree`: free a kmalloc'ed (or any slab) object or large block.
    /// 0 and [`ZERO_SIZE_PTR`] are ignored.
    #[inline]
    pub fn kfree(&mut self, src: &mut dyn PageSource, addr: u64) -> Result<()> {
        if addr <= ZERO_SIZE_PTR {
            return Ok(());
        }
        self.free_addr(addr, None, src)
    }

    /// `ksize`: the usable size of the live object at `addr` (`slab_ksize`),
    /// or of a large block (`PAGE_SIZE << order`). 0 for 0 and ZERO_SIZE_PTR.
    pub fn ksize(&self, addr: u64) -> Result<u64> {
        if addr <= ZERO_SIZE_PTR {
            return Ok(0);
        }
        let Some(off) = addr.checked_sub(self.config.page_offset) else {
            return Err(not_an_object(addr, "none"));
        };
        match self.pfn_map.get(off >> PAGE_SHIFT) {
            PfnEntry::LargeHead(order) if off & ((1 << PAGE_SHIFT) - 1) == 0 => Ok(1u64 << (order + PAGE_SHIFT)),
            PfnEntry::Slab(_) => {
                let (sid, idx) = self.locate(addr)?;
                let slab = &self.slabs[sid as usize];
                let cache = self.cache_ref(slab.cache);
                if slab.is_free(idx) {
                    return Err(not_an_object(addr, &cache.name));
                }
                Ok(cache.ksize() as u64)
            }
            _ => Err(not_an_object(addr, "none")),
        }
    }

    /// `krealloc`: same address while the object still fits (`ksize`), else
    /// a new kmalloc object and the old one freed. `new_size` 0 frees and
    /// returns ZERO_SIZE_PTR; `addr` 0 or ZERO_SIZE_PTR is a plain kmalloc.
    /// Nothing changes on error.
    pub fn krealloc(&mut self, src: &mut dyn PageSource, addr: u64, new_size: u64, gfp: Gfp) -> Result<u64> {
        let ks = self.ksize(addr)?;
        if new_size == 0 {
            self.kfree(src, addr)?;
            return Ok(ZERO_SIZE_PTR);
        }
        if addr > ZERO_SIZE_PTR && ks >= new_size {
            return Ok(addr);
        }
        let new = self.kmalloc(src, new_size, gfp)?;
        if addr > ZERO_SIZE_PTR {
            // Validated by ksize above: cannot fail except for a page source
            // refusing a large block back, in which case undo the kmalloc.
            if let Err(e) = self.kfree(src, addr) {
                let _ = self.kfree(src, new);
                return Err(e);
            }
        }
        Ok(new)
    }
}
