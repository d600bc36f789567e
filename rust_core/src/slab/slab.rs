//! One slab: its pages, its free list of objects (LIFO, as SLUB's
//! `freelist`), a free bitmap for O(1) double-free detection, and its links
//! on the partial list.

use super::cache::NO_SLAB;

/// Where a slab is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlabState {
    /// A CPU's active slab (`cpu_slab->slab`, frozen).
    Cpu,
    /// On a CPU's partial list (frozen).
    CpuPartial,
    /// On the node's partial list.
    Partial,
    /// All objects in use, on no list (counted).
    Full,
    /// Not in use (a free arena slot).
    Unused,
}

/// One slab (`struct slab` of 6.1, slab fields of `struct page` on 5.14).
#[derive(Debug, Clone)]
pub struct Slab {
    /// First pfn.
    pub pfn: u64,
    /// Address of object 0 (direct-map address of the slab plus `red_left_pad`).
    pub base: u64,
    /// Owning cache.
    pub cache: u32,
    /// Page order.
    pub order: u32,
    /// Objects in this slab.
    pub objects: u32,
    /// Objects in use.
    pub inuse: u32,
    /// Free object indices; the last one is handed out next.
    pub(crate) freelist: Vec<u16>,
    /// Bit i set: object i is free.
    pub(crate) free_map: Vec<u64>,
    /// List state.
    pub state: SlabState,
    /// The CPU a frozen slab belongs to.
    pub cpu: u32,
    /// On a per-cpu partial list: slabs (6.1 `slab->slabs`) and free objects
    /// (5.14 `page->pobjects`) of the list when this slab was put on it.
    pub(crate) pslabs: u32,
    pub(crate) pobjects: u32,
    /// Partial list links.
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Slab {
    /// An unused slot.
    pub(crate) fn unused() -> Self {
        Slab {
            pfn: 0,
            base: 0,
            cache: 0,
            order: 0,
            objects: 0,
            inuse: 0,
            freelist: Vec::new(),
            free_map: Vec::new(),
            state: SlabState::Unused,
            cpu: 0,
            pslabs: 0,
            pobjects: 0,
            prev: NO_SLAB,
            next: NO_SLAB,
        }
    }

    /// (Re)initialise this slot as a fresh slab with every object free; the
    /// first object handed out is object 0, as with SLUB's in-order freelist.
    pub(crate) fn init(&mut self, pfn: u64, base: u64, cache: u32, order: u32, objects: u32) {
        self.pfn = pfn;
        self.base = base;
        self.cache = cache;
        self.order = order;
        self.objects = objects;
        self.inuse = 0;
        self.freelist.clear();
        self.freelist.extend((0..objects as u16).rev());
        self.free_map.clear();
        let words = (objects as usize).div_ceil(64);
        self.free_map.resize(words, u64::MAX);
        let tail = objects % 64;
        if tail != 0 {
            if let Some(last) = self.free_map.last_mut() {
                *last = (1u64 << tail) - 1;
            }
        }
        self.state = SlabState::Cpu;
        self.cpu = 0;
        self.prev = NO_SLAB;
        self.next = NO_SLAB;
    }

    /// Take the next free object; `None` when the slab is full.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<u32> {
        let idx = self.freelist.pop()? as u32;
        // SAFETY-free indexing: idx < objects by construction.
        if let Some(w) = self.free_map.get_mut((idx / 64) as usize) {
            *w &= !(1u64 << (idx % 64));
        }
        self.inuse += 1;
        Some(idx)
    }

    /// Whether object `idx` is free.
    #[inline]
    pub(crate) fn is_free(&self, idx: u32) -> bool {
        match self.free_map.get((idx / 64) as usize) {
            Some(w) => w & (1u64 << (idx % 64)) != 0,
            None => true,
        }
    }

    /// Give object `idx` back (the caller checked it is in use).
    #[inline]
    pub(crate) fn push(&mut self, idx: u32) {
        if let Some(w) = self.free_map.get_mut((idx / 64) as usize) {
            *w |= 1u64 << (idx % 64);
        }
        self.freelist.push(idx as u16);
        self.inuse -= 1;
    }

    /// Free objects.
    #[inline]
    pub fn free_objects(&self) -> u32 {
        self.objects - self.inuse
    }

    /// Pages in this slab.
    #[inline]
    pub fn pages(&self) -> u64 {
        1u64 << self.order
    }
}
