//! Sparse per-page state.
//!
//! A zone's pfn span is cut into max-order blocks. A lazily zeroed table
//! holds one `u32` per block (untouched table pages are never made resident,
//! so the table costs RSS only where blocks were used):
//!
//! * `0` – untouched: the block is either a whole free block inside a run
//!   of the top-order free list, or not handed to the buddy allocator
//!   (reserved, hole, deferred). All its pageblocks are MIGRATE_MOVABLE.
//! * `1..=7` – allocated as one whole max-order block with migratetype
//!   `v - 1`, pageblocks MOVABLE, no descriptor.
//! * `8..` – descriptor `v - 8`: per-page state, free-list links and the
//!   pageblock migratetypes of the block.
//!
//! Descriptors are recycled through a pool when a block coalesces back into
//! one free max-order block with default pageblock types.

use super::migratetype::MigrateType;
use crate::units::Pfn;

pub(crate) const NIL: u64 = u64::MAX;

pub(crate) const K_NONE: u16 = 0;
pub(crate) const K_FREE: u16 = 1;
pub(crate) const K_ALLOC: u16 = 2;
pub(crate) const K_PCP: u16 = 3;

/// Page state: kind (2 bits) | order (5 bits) << 2 | migratetype << 8.
#[inline]
pub(crate) const fn mk(kind: u16, order: u32, mt: u8) -> u16 {
    kind | ((order as u16) << 2) | ((mt as u16) << 8)
}
#[inline]
pub(crate) const fn kind(s: u16) -> u16 {
    s & 3
}
#[inline]
pub(crate) const fn order(s: u16) -> u32 {
    ((s >> 2) & 0x1f) as u32
}
#[inline]
pub(crate) const fn mt(s: u16) -> u8 {
    ((s >> 8) & 7) as u8
}

pub(crate) const E_UNTOUCHED: u32 = 0;
pub(crate) const E_DESC: u32 = 8;

pub(crate) struct BlockDesc {
    pub state: Box<[u16]>,
    pub next: Box<[u64]>,
    pub prev: Box<[u64]>,
    pub pb_mt: Box<[u8]>,
}

pub(crate) struct PageTable {
    pub base_blk: u64,
    pub shift: u32,
    pub pb_shift: u32,
    pub entries: Vec<u32>,
    pub descs: Vec<BlockDesc>,
    pub free_descs: Vec<u32>,
    /// Block start pfn of each descriptor (NIL when pooled).
    pub owner: Vec<u64>,
}

impl PageTable {
    pub fn new(start_pfn: Pfn, end_pfn: Pfn, shift: u32, pb_shift: u32) -> Self {
        let base_blk = start_pfn >> shift;
        let n = if end_pfn > start_pfn { ((end_pfn - 1) >> shift) - base_blk + 1 } else { 0 };
        PageTable {
            base_blk,
            shift,
            pb_shift,
            // vec![0; n] allocates zeroed memory: the OS maps it lazily.
            entries: vec![0u32; n as usize],
            descs: Vec::new(),
            free_descs: Vec::new(),
            owner: Vec::new(),
        }
    }

    #[inline]
    pub fn slot(&self, pfn: Pfn) -> usize {
        ((pfn >> self.shift) - self.base_blk) as usize
    }
    #[inline]
    pub fn entry(&self, pfn: Pfn) -> u32 {
        self.entries[self.slot(pfn)]
    }
    #[inline]
    pub fn off(&self, pfn: Pfn) -> usize {
        (pfn & ((1u64 << self.shift) - 1)) as usize
    }
    #[inline]
    pub fn desc_of(&self, pfn: Pfn) -> Option<&BlockDesc> {
        let e = self.entry(pfn);
        if e >= E_DESC {
            Some(&self.descs[(e - E_DESC) as usize])
        } else {
            None
        }
    }
    #[inline]
    pub fn desc_mut(&mut self, pfn: Pfn) -> Option<&mut BlockDesc> {
        let e = self.entry(pfn);
        if e >= E_DESC {
            Some(&mut self.descs[(e - E_DESC) as usize])
        } else {
            None
        }
    }

    /// State of a page (K_NONE when the block has no descriptor).
    #[inline]
    pub fn state(&self, pfn: Pfn) -> u16 {
        match self.desc_of(pfn) {
            Some(d) => d.state[self.off(pfn)],
            None => K_NONE,
        }
    }

    /// Set a page's state; the block must have a descriptor.
    #[inline]
    pub fn set_state(&mut self, pfn: Pfn, s: u16) {
        let off = self.off(pfn);
        if let Some(d) = self.desc_mut(pfn) {
            d.state[off] = s;
        }
    }

    /// Pageblock migratetype of `pfn`.
    #[inline]
    pub fn pb_mt(&self, pfn: Pfn) -> u8 {
        match self.desc_of(pfn) {
            Some(d) => d.pb_mt[self.off(pfn) >> self.pb_shift],
            None => MigrateType::Movable as u8,
        }
    }

    /// Give the block of `pfn` a descriptor. An untouched block gets
    /// `untouched_head` as the state of its first page; a whole allocated
    /// block becomes an allocated head.
    pub fn ensure_desc(&mut self, pfn: Pfn, untouched_head: u16) {
        let slot = self.slot(pfn);
        let e = self.entries[slot];
        if e >= E_DESC {
            return;
        }
        let head = if e == E_UNTOUCHED { untouched_head } else { mk(K_ALLOC, self.shift, (e - 1) as u8) };
        let n = 1usize << self.shift;
        let npb = (n >> self.pb_shift).max(1);
        let idx = match self.free_descs.pop() {
            Some(i) => {
                let d = &mut self.descs[i as usize];
                d.state.fill(K_NONE);
                d.pb_mt.fill(MigrateType::Movable as u8);
                i
            }
            None => {
                self.descs.push(BlockDesc {
                    state: vec![K_NONE; n].into_boxed_slice(),
                    next: vec![NIL; n].into_boxed_slice(),
                    prev: vec![NIL; n].into_boxed_slice(),
                    pb_mt: vec![MigrateType::Movable as u8; npb].into_boxed_slice(),
                });
                self.owner.push(NIL);
                (self.descs.len() - 1) as u32
            }
        };
        self.owner[idx as usize] = pfn & !((1u64 << self.shift) - 1);
        self.descs[idx as usize].state[0] = head;
        self.entries[slot] = E_DESC + idx;
    }

    /// True when every pageblock of the block has the default type.
    pub fn default_pb(&self, pfn: Pfn) -> bool {
        match self.desc_of(pfn) {
            Some(d) => d.pb_mt.iter().all(|&m| m == MigrateType::Movable as u8),
            None => true,
        }
    }

    /// Drop the block's descriptor (back to the pool).
    pub fn drop_desc(&mut self, pfn: Pfn) {
        let slot = self.slot(pfn);
        let e = self.entries[slot];
        if e >= E_DESC {
            self.free_descs.push(e - E_DESC);
            self.owner[(e - E_DESC) as usize] = NIL;
        }
        self.entries[slot] = E_UNTOUCHED;
    }

    /// Mark an untouched block as allocated whole with migratetype `mt`.
    pub fn set_whole(&mut self, pfn: Pfn, mt: u8) {
        let slot = self.slot(pfn);
        self.entries[slot] = 1 + mt as u32;
    }

    pub fn live_descs(&self) -> usize {
        self.descs.len() - self.free_descs.len()
    }

    /// Iterate over (block start pfn, descriptor) of live descriptors.
    pub fn for_each_desc(&self, mut f: impl FnMut(Pfn, &BlockDesc)) {
        for (i, d) in self.descs.iter().enumerate() {
            let owner = self.owner[i];
            if owner != NIL {
                f(owner, d);
            }
        }
    }
}
