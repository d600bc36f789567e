//! Sparse per-page state.
//!
//! A zone's pfn span is cut into max-order blocks. A lazily zeroed table
//! holds one `u32` per block (untouched table pages are never made resident,
//! so the table costs RSS only where blocks were used):
//!
//! * `0` – untouched: the block is either a whole free block inside a run
//!   of the top-order free list, or not handed to the buddy allocator
//!   (reserved, hole, deferred). Its pageblocks are MIGRATE_MOVABLE unless
//!   marked in the never-initialised set (see [`PageTable::pb_uninit`]).
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
/// A spare state bit: "in the batch being freed" (set only while
/// `free_pages_bulk` validates a batch, never left behind).
pub(crate) const S_MARK: u16 = 0x80;

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

/// A borrowed view of one block's descriptor.
pub(crate) struct Desc<'a> {
    pub pb_mt: &'a [u8],
}

/// A mutable view of one block's descriptor.
pub(crate) struct DescMut<'a> {
    pub pb_mt: &'a mut [u8],
}

pub(crate) struct PageTable {
    pub base_blk: u64,
    pub shift: u32,
    pub pb_shift: u32,
    pub entries: Vec<u32>,
    /// Descriptor arenas: descriptor `i` owns `[i << shift, (i + 1) << shift)`
    /// of `st`/`nx`/`pv` and `[i * npb, (i + 1) * npb)` of `pbm`.
    pub st: Vec<u16>,
    pub nx: Vec<u64>,
    pub pv: Vec<u64>,
    pub pbm: Vec<u8>,
    pub npb: usize,
    pub free_descs: Vec<u32>,
    /// Block start pfn of each descriptor (NIL when pooled).
    pub owner: Vec<u64>,
    /// One bit per pageblock of the span: set while the pageblock's
    /// migratetype was never written at init, so it reads as the kernel's
    /// zeroed pageblock bits do, MIGRATE_UNMOVABLE. That is a pageblock
    /// whose first pfn is a hole when the memmap is initialised, or is
    /// still reserved when deferred init frees the rest of it. Only blocks
    /// without a descriptor keep bits here; a new descriptor takes them
    /// over into its `pbm`.
    pub pb_uninit: Vec<u64>,
    /// Pageblock number of the span's first block.
    pb_base: u64,
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
            st: Vec::new(),
            nx: Vec::new(),
            pv: Vec::new(),
            pbm: Vec::new(),
            npb: ((1usize << shift) >> pb_shift).max(1),
            free_descs: Vec::new(),
            owner: Vec::new(),
            pb_uninit: vec![0u64; ((n << shift) >> pb_shift).max(n).div_ceil(64) as usize],
            pb_base: (base_blk << shift) >> pb_shift,
        }
    }

    /// Bit index of `pfn`'s pageblock in `pb_uninit`.
    #[inline]
    fn pb_bit(&self, pfn: Pfn) -> usize {
        ((pfn >> self.pb_shift) - self.pb_base) as usize
    }

    #[inline]
    fn pb_is_uninit(&self, pfn: Pfn) -> bool {
        let i = self.pb_bit(pfn);
        self.pb_uninit.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0)
    }

    /// Mark (`uninit`) or unmark the pageblocks whose first pfn lies in
    /// `[lo, hi)` as never initialised. Their blocks must not have
    /// descriptors (this runs before the buddy allocator touches them).
    pub fn set_pb_uninit(&mut self, lo: Pfn, hi: Pfn, uninit: bool) {
        let pb = 1u64 << self.pb_shift;
        let first = lo.div_ceil(pb);
        let end = hi.div_ceil(pb);
        if first >= end {
            return;
        }
        let (a, b) = ((first - self.pb_base) as usize, (end - self.pb_base) as usize);
        debug_assert!(b <= self.pb_uninit.len() * 64);
        let mut i = a;
        while i < b {
            let w = i / 64;
            let lo_bit = i % 64;
            let n = (64 - lo_bit).min(b - i);
            let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << lo_bit };
            if uninit {
                self.pb_uninit[w] |= mask;
            } else {
                self.pb_uninit[w] &= !mask;
            }
            i += n;
        }
    }

    /// Does the max-order block of `pfn` hold a never-initialised pageblock?
    #[inline]
    pub fn block_has_uninit(&self, pfn: Pfn) -> bool {
        let blk = pfn & !((1u64 << self.shift) - 1);
        let pb = 1u64 << self.pb_shift.min(self.shift);
        (0..self.npb as u64).any(|k| self.pb_is_uninit(blk + k * pb))
    }

    /// First pfns of the pageblocks still marked never initialised.
    pub fn for_each_pb_uninit(&self, mut f: impl FnMut(Pfn)) {
        for (w, &word) in self.pb_uninit.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let b = bits.trailing_zeros() as u64;
                bits &= bits - 1;
                f((self.pb_base + w as u64 * 64 + b) << self.pb_shift);
            }
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
    /// Arena index of `pfn`'s state, if its block has a descriptor.
    #[inline]
    pub fn si(&self, pfn: Pfn) -> Option<usize> {
        let e = self.entry(pfn);
        (e >= E_DESC).then(|| (((e - E_DESC) as usize) << self.shift) + self.off(pfn))
    }
    #[inline]
    fn view_ranges(&self, idx: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let b = 1usize << self.shift;
        (idx * b..(idx + 1) * b, idx * self.npb..(idx + 1) * self.npb)
    }
    #[inline]
    pub fn desc_mut(&mut self, pfn: Pfn) -> Option<DescMut<'_>> {
        let e = self.entry(pfn);
        if e < E_DESC {
            return None;
        }
        let (r, p) = self.view_ranges((e - E_DESC) as usize);
        let _ = r;
        Some(DescMut { pb_mt: &mut self.pbm[p] })
    }

    /// State of a page (K_NONE when the block has no descriptor).
    #[inline]
    pub fn state(&self, pfn: Pfn) -> u16 {
        match self.si(pfn) {
            Some(i) => self.st[i],
            None => K_NONE,
        }
    }

    /// Set a page's state; the block must have a descriptor.
    #[inline]
    pub fn set_state(&mut self, pfn: Pfn, s: u16) {
        if let Some(i) = self.si(pfn) {
            self.st[i] = s;
        }
    }

    /// Pageblock migratetype of `pfn`.
    #[inline]
    pub fn pb_mt(&self, pfn: Pfn) -> u8 {
        let e = self.entry(pfn);
        if e < E_DESC {
            return if self.pb_is_uninit(pfn) { MigrateType::Unmovable } else { MigrateType::Movable } as u8;
        }
        self.pbm[(e - E_DESC) as usize * self.npb + (self.off(pfn) >> self.pb_shift)]
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
        let idx = match self.free_descs.pop() {
            Some(i) => {
                // Pooled descriptors are clean: a block only gives its
                // descriptor back once every page merged into one free
                // block (all states NONE) with default pageblock types.
                let (r, p) = self.view_ranges(i as usize);
                debug_assert!(self.st[r].iter().all(|&x| x == K_NONE));
                debug_assert!(self.pbm[p].iter().all(|&m| m == MigrateType::Movable as u8));
                i
            }
            None => {
                self.st.resize(self.st.len() + n, K_NONE);
                self.nx.resize(self.nx.len() + n, NIL);
                self.pv.resize(self.pv.len() + n, NIL);
                self.pbm.resize(self.pbm.len() + self.npb, MigrateType::Movable as u8);
                self.owner.push(NIL);
                (self.owner.len() - 1) as u32
            }
        };
        let blk = pfn & !((1u64 << self.shift) - 1);
        self.owner[idx as usize] = blk;
        self.st[(idx as usize) << self.shift] = head;
        self.entries[slot] = E_DESC + idx;
        // the descriptor takes over the block's never-initialised pageblocks
        let pb = 1u64 << self.pb_shift.min(self.shift);
        for k in 0..self.npb {
            let p = blk + k as u64 * pb;
            if self.pb_is_uninit(p) {
                self.pbm[idx as usize * self.npb + k] = MigrateType::Unmovable as u8;
                let i = self.pb_bit(p);
                self.pb_uninit[i / 64] &= !(1u64 << (i % 64));
            }
        }
    }

    /// Drop the block's descriptor (back to the pool).
    pub fn drop_desc(&mut self, pfn: Pfn) {
        let slot = self.slot(pfn);
        let e = self.entries[slot];
        if e >= E_DESC {
            let i = (e - E_DESC) as usize;
            self.st[i << self.shift] = K_NONE;
            self.free_descs.push(e - E_DESC);
            self.owner[i] = NIL;
        }
        self.entries[slot] = E_UNTOUCHED;
    }

    /// Mark an untouched block as allocated whole with migratetype `mt`.
    pub fn set_whole(&mut self, pfn: Pfn, mt: u8) {
        let slot = self.slot(pfn);
        self.entries[slot] = 1 + mt as u32;
    }

    pub fn live_descs(&self) -> usize {
        self.owner.len() - self.free_descs.len()
    }

    /// Iterate over (block start pfn, descriptor) of live descriptors.
    pub fn for_each_desc(&self, mut f: impl FnMut(Pfn, Desc<'_>)) {
        for (i, &owner) in self.owner.iter().enumerate() {
            if owner != NIL {
                let (r, p) = self.view_ranges(i);
                let _ = r;
                f(owner, Desc { pb_mt: &self.pbm[p] });
            }
        }
    }
}
