//! One zone's buddy operations: `expand`, `__free_one_page`,
//! `__rmqueue_smallest`, `__rmqueue_fallback` with stealing,
//! `move_freepages_block`, highatomic reserves.

use super::free_area::FreeArea;
use super::free_area_init::ZoneType;
use super::migratetype::{fallbacks, MigrateType};
use super::pages::{kind, mk, mt as st_mt, order as st_order, PageTable, K_ALLOC, K_FREE, K_NONE};
use super::pcp::Pcp;
use super::watermark::{ALLOC_HARDER, ALLOC_NOFRAGMENT};
use crate::units::Pfn;

pub(crate) struct Zone {
    pub nid: u32,
    pub zone_type: ZoneType,
    /// Index of the zone inside its node (`zone_idx`).
    pub idx: usize,
    pub start_pfn: Pfn,
    pub end_pfn: Pfn,
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
    /// The node's memory clipped to this zone.
    pub memory: Vec<(Pfn, Pfn)>,
    /// Where `pfn_valid` holds inside the span.
    pub valid: Vec<(Pfn, Pfn)>,
    /// min, low, high.
    pub wmark: [u64; 3],
    pub lowmem_reserve: Vec<u64>,
    pub nr_reserved_highatomic: u64,
    /// NR_FREE_PAGES (buddy pages only; pcp pages are not counted).
    pub nr_free_pages: u64,
    /// How many times `rmqueue_bulk` ran (lets bulk allocation know that a
    /// call changed nothing but a pcp list).
    pub pcp_refills: u64,
    pub area: FreeArea,
    pub pt: PageTable,
    pub pcp: Vec<Pcp>,
    pub pageblock_order: u32,
    pub mobility_disabled: bool,
    /// The vm stats threshold `refresh_zone_stat_thresholds` last set
    /// (0 before it first runs).
    pub stat_threshold: u64,
}

impl Zone {
    #[inline]
    pub fn top(&self) -> u32 {
        self.area.top
    }
    #[inline]
    pub fn spans(&self, pfn: Pfn) -> bool {
        pfn >= self.start_pfn && pfn < self.end_pfn
    }
    pub fn is_present(&self, pfn: Pfn) -> bool {
        self.memory.iter().any(|&(s, e)| pfn >= s && pfn < e)
    }
    pub fn range_present(&self, s: Pfn, e: Pfn) -> bool {
        self.memory.iter().any(|&(a, b)| s >= a && e <= b)
    }
    pub fn pcp_pages(&self) -> u64 {
        self.pcp.iter().map(|p| p.count).sum()
    }

    /// Mark a block taken from the free lists as allocated.
    #[inline]
    pub fn mark_alloc(&mut self, pfn: Pfn, order: u32, mt: u8) {
        let e = self.pt.entry(pfn);
        if e >= super::pages::E_DESC {
            let i = (((e - super::pages::E_DESC) as usize) << self.pt.shift) + self.pt.off(pfn);
            self.pt.st[i] = mk(K_ALLOC, order, mt);
        } else if order == self.top() {
            self.pt.set_whole(pfn, mt);
        }
    }

    /// `__rmqueue_smallest`: the head of the smallest non-empty list of
    /// `mt` at or above `order`, split down. The returned page is unmarked.
    pub fn rmqueue_smallest(&mut self, order: u32, mt: u8) -> Option<Pfn> {
        let top = self.top();
        for cur in order..=top {
            if self.area.is_empty(cur, mt) {
                continue;
            }
            let pfn = if cur == top {
                self.area.pop_run_head(mt)?
            } else {
                self.area.pop_head(&mut self.pt, cur, mt)?
            };
            if cur == top || order < cur {
                // the block's descriptor, looked up once
                let mut e = self.pt.entry(pfn);
                if cur == top {
                    if e >= super::pages::E_DESC {
                        // clear the head state `pop_head` would have cleared
                        self.pt.st[((e - super::pages::E_DESC) as usize) << top] = K_NONE;
                    } else if order < cur {
                        self.pt.ensure_desc(pfn, K_NONE);
                        e = self.pt.entry(pfn);
                    }
                }
                if order < cur {
                    // `expand`
                    let base = (e >= super::pages::E_DESC).then(|| ((e - super::pages::E_DESC) as usize) << top);
                    let mask = (1u64 << top) - 1;
                    let mut h = cur;
                    while h > order {
                        h -= 1;
                        let q = pfn + (1u64 << h);
                        self.area.add_at(&mut self.pt, q, base.map(|b| b + (q & mask) as usize), h, mt, false);
                    }
                }
            }
            self.nr_free_pages -= 1u64 << order;
            return Some(pfn);
        }
        None
    }

    /// `__rmqueue`: own type first, then steal from a fallback type.
    pub fn rmqueue(&mut self, order: u32, mt: u8, alloc_flags: u32) -> Option<Pfn> {
        loop {
            if let Some(p) = self.rmqueue_smallest(order, mt) {
                return Some(p);
            }
            if !self.rmqueue_fallback(order, mt, alloc_flags) {
                return None;
            }
        }
    }

    /// The buddy path of `rmqueue` for one request (no pcp).
    #[inline]
    pub fn rmqueue_buddy(&mut self, order: u32, mt: u8, alloc_flags: u32) -> Option<Pfn> {
        let mut page = None;
        if order > 0 && alloc_flags & ALLOC_HARDER != 0 {
            page = self.rmqueue_smallest(order, MigrateType::HighAtomic as u8);
        }
        if page.is_none() {
            page = self.rmqueue(order, mt, alloc_flags);
        }
        let pfn = page?;
        self.mark_alloc(pfn, order, mt);
        if order > 0 && alloc_flags & ALLOC_HARDER != 0 {
            self.reserve_highatomic_pageblock(pfn);
        }
        Some(pfn)
    }

    fn can_steal_fallback(&self, order: u32, start_mt: u8) -> bool {
        order >= self.pageblock_order
            || order >= self.pageblock_order / 2
            || start_mt == MigrateType::Reclaimable as u8
            || start_mt == MigrateType::Unmovable as u8
            || self.mobility_disabled
    }

    /// `find_suitable_fallback`.
    pub fn find_suitable_fallback(&self, order: u32, start_mt: u8, only_stealable: bool) -> Option<(u8, bool)> {
        if self.area.nr_free[order as usize] == 0 {
            return None;
        }
        for &f in fallbacks(MigrateType::from_index(start_mt)) {
            if self.area.is_empty(order, f as u8) {
                continue;
            }
            let can = self.can_steal_fallback(order, start_mt);
            if !only_stealable || can {
                return Some((f as u8, can));
            }
        }
        None
    }

    /// `__rmqueue_fallback`: search the other types from the largest order
    /// down, so that a whole pageblock is taken when possible.
    fn rmqueue_fallback(&mut self, order: u32, start_mt: u8, alloc_flags: u32) -> bool {
        let min_order = if alloc_flags & ALLOC_NOFRAGMENT != 0 { self.pageblock_order } else { order };
        let mut found = None;
        let mut cur = self.top() as i64;
        while cur >= min_order as i64 {
            let c = cur as u32;
            if let Some((f, can)) = self.find_suitable_fallback(c, start_mt, false) {
                if !can && start_mt == MigrateType::Movable as u8 && c > order {
                    // Take the smallest block instead of breaking a big one.
                    found = (order..=self.top())
                        .find_map(|o| self.find_suitable_fallback(o, start_mt, false).map(|(f, can)| (o, f, can)));
                } else {
                    found = Some((c, f, can));
                }
                break;
            }
            cur -= 1;
        }
        let Some((cur, f, can)) = found else { return false };
        let Some(pfn) = self.area.head(cur, f) else { return false };
        self.steal_suitable_fallback(pfn, cur, f, start_mt, can);
        true
    }

    /// Move a free block to the tail of another type's list
    /// (`move_to_free_list`). Top-order blocks must be list heads.
    fn move_to_free_list(&mut self, pfn: Pfn, order: u32, from: u8, to: u8) {
        if order == self.top() {
            self.pt.ensure_desc(pfn, mk(K_FREE, order, from));
            self.area.pop_head(&mut self.pt, order, from);
        } else {
            self.area.del(&mut self.pt, pfn, order, from);
        }
        self.area.add(&mut self.pt, pfn, order, to, true);
    }

    fn set_pb_range(&mut self, pfn: Pfn, order: u32, mt: u8) {
        let pb = 1u64 << self.pageblock_order;
        let n = (1u64 << order).max(pb);
        let start = pfn & !(pb - 1);
        let mut p = start;
        let mask = (1u64 << self.pt.shift) - 1;
        let pbo = self.pageblock_order;
        while p < start + n {
            if let Some(d) = self.pt.desc_mut(p) {
                let i = ((p & mask) >> pbo) as usize;
                d.pb_mt[i] = mt;
            }
            p += pb;
        }
    }

    /// `steal_suitable_fallback`.
    fn steal_suitable_fallback(&mut self, pfn: Pfn, cur: u32, from: u8, start_mt: u8, whole_block: bool) {
        let old = self.pt.pb_mt(pfn);
        if old != MigrateType::HighAtomic as u8 {
            if cur >= self.pageblock_order {
                self.pt.ensure_desc(pfn, mk(K_FREE, cur, from));
                self.set_pb_range(pfn, cur, start_mt);
            } else if whole_block {
                let (free, movable) = self.move_freepages_block(pfn, start_mt);
                let pb = 1u64 << self.pageblock_order;
                let alike = if start_mt == MigrateType::Movable as u8 {
                    movable
                } else if old == MigrateType::Movable as u8 {
                    pb.saturating_sub(free + movable)
                } else {
                    0
                };
                if free > 0 {
                    if free + alike >= pb / 2 || self.mobility_disabled {
                        self.set_pb_range(pfn, 0, start_mt);
                    }
                    return;
                }
            }
        }
        self.move_to_free_list(pfn, cur, from, start_mt);
    }

    /// `move_freepages_block`: move every free block of the pageblock of
    /// `pfn` to `mt`'s lists. Returns (pages moved, movable pages seen).
    pub fn move_freepages_block(&mut self, pfn: Pfn, mt: u8) -> (u64, u64) {
        let pb = 1u64 << self.pageblock_order;
        let mut start = pfn & !(pb - 1);
        let end = start + pb - 1;
        if !self.spans(start) {
            start = pfn;
        }
        if !self.spans(end) {
            return (0, 0);
        }
        let (mut free, mut movable) = (0u64, 0u64);
        let mut p = start;
        while p <= end {
            let s = self.pt.state(p);
            match kind(s) {
                K_FREE => {
                    let o = st_order(s);
                    if o < self.top() {
                        self.move_to_free_list(p, o, st_mt(s), mt);
                    }
                    free += 1u64 << o;
                    p += 1u64 << o;
                }
                K_ALLOC => {
                    let o = st_order(s);
                    if st_mt(s) == MigrateType::Movable as u8 {
                        movable += 1u64 << o;
                    }
                    p += 1u64 << o;
                }
                _ => p += 1,
            }
        }
        (free, movable)
    }

    /// `reserve_highatomic_pageblock` for an allocated block at `pfn`.
    fn reserve_highatomic_pageblock(&mut self, pfn: Pfn) {
        let pb = 1u64 << self.pageblock_order;
        let max = self.managed / 100 + pb;
        if self.nr_reserved_highatomic >= max {
            return;
        }
        let m = self.pt.pb_mt(pfn);
        if m == MigrateType::HighAtomic as u8 || m == MigrateType::Isolate as u8 || m == MigrateType::Cma as u8 {
            return;
        }
        self.nr_reserved_highatomic += pb;
        self.pt.ensure_desc(pfn, K_NONE);
        self.set_pb_range(pfn, 0, MigrateType::HighAtomic as u8);
        self.move_freepages_block(pfn, MigrateType::HighAtomic as u8);
    }

    /// Free an allocated block of `0 < order < top` in one descriptor
    /// lookup (validation and `__free_pages`). Returns false, changing
    /// nothing, when `pfn` is not the head of a block allocated with
    /// `order`.
    #[inline]
    pub fn buddy_free_fast(&mut self, pfn: Pfn, order: u32) -> bool {
        if order >= self.top() {
            return false;
        }
        let e = self.pt.entry(pfn);
        if e < super::pages::E_DESC {
            return false;
        }
        let idx = (e - super::pages::E_DESC) as usize;
        let off = self.pt.off(pfn);
        let i = (idx << self.pt.shift) + off;
        let s = self.pt.st[i];
        if kind(s) != K_ALLOC || st_order(s) != order {
            return false;
        }
        self.pt.st[i] = K_NONE;
        let mt = self.pt.pbm[idx * self.pt.npb + (off >> self.pt.pb_shift)];
        self.free_one_page_at(pfn, order, mt, false, idx << self.pt.shift);
        true
    }

    /// `__free_one_page`: merge with free buddies and add to a list.
    /// The block must be in this zone and not on any list.
    pub fn free_one_page(&mut self, pfn: Pfn, order: u32, mt: u8, to_tail_flag: bool) {
        let mut base = 0;
        if order < self.top() {
            let mut e = self.pt.entry(pfn);
            if e < super::pages::E_DESC {
                self.pt.ensure_desc(pfn, K_NONE);
                e = self.pt.entry(pfn);
            }
            base = ((e - super::pages::E_DESC) as usize) << self.top();
        }
        self.free_one_page_at(pfn, order, mt, to_tail_flag, base);
    }

    /// [`Self::free_one_page`] with the first state index of the block's
    /// descriptor (`base`, used below the top order) known.
    #[inline]
    pub fn free_one_page_at(&mut self, pfn: Pfn, order: u32, mt: u8, to_tail_flag: bool, base: usize) {
        let top = self.top();
        debug_assert!(order <= top, "order {order} above the top order {top}");
        self.nr_free_pages += 1u64 << order;
        let merged = order < top;
        let (mut pfn, mut order) = (pfn, order);
        if order < top {
            let mask = (1u64 << top) - 1;
            let whole_block_in_zone = self.spans(pfn & !mask) && self.spans(pfn | mask);
            self.pt.st[base + (pfn & mask) as usize] = K_NONE;
            while order < top {
                let buddy = pfn ^ (1u64 << order);
                if !whole_block_in_zone && !self.spans(buddy) {
                    break;
                }
                let bi = base + (buddy & mask) as usize;
                let s = self.pt.st[bi];
                if kind(s) != K_FREE || st_order(s) != order {
                    break;
                }
                self.area.del_at(&mut self.pt, bi, order, st_mt(s));
                pfn &= buddy;
                order += 1;
            }
            if order < top {
                // `buddy_merge_likely`: the higher buddy is in this block.
                let to_tail = to_tail_flag
                    || (order + 2 < top + 1 && {
                        let higher = (pfn & !(1u64 << order)) ^ (1u64 << (order + 1));
                        (whole_block_in_zone || self.spans(higher)) && {
                            let s = self.pt.st[base + (higher & mask) as usize];
                            kind(s) == K_FREE && st_order(s) == order + 1
                        }
                    });
                let i = base + (pfn & mask) as usize;
                self.area.add_at(&mut self.pt, pfn, Some(i), order, mt, to_tail);
                return;
            }
        }
        // a top-order block (merged up from below: `base` is its descriptor)
        let idx = if merged {
            base >> top
        } else {
            let e = self.pt.entry(pfn);
            if e < super::pages::E_DESC {
                self.pt.drop_desc(pfn);
                self.area.add_run(mt, pfn, 1, to_tail_flag);
                return;
            }
            (e - super::pages::E_DESC) as usize
        };
        let npb = self.pt.npb;
        if self.pt.pbm[idx * npb..(idx + 1) * npb].iter().all(|&m| m == MigrateType::Movable as u8) {
            self.pt.drop_desc(pfn);
            self.area.add_run(mt, pfn, 1, to_tail_flag);
        } else {
            // a block of non-default pageblock types keeps its
            // descriptor; pfn is its first page
            self.area.add_top_at(&mut self.pt, pfn, idx << top, mt, to_tail_flag);
        }
    }

    /// Free the pfn range `[s, e)` (present, not on any list) in
    /// max-order-aligned chunks with FPI_TO_TAIL, like
    /// `__free_pages_memory` followed by `__free_pages_core`.
    pub fn free_range_boot(&mut self, s: Pfn, e: Pfn) {
        self.free_range_inner(s, e, false);
    }

    /// Like [`Self::free_range_boot`] for ranges whose whole blocks may
    /// already carry descriptors (pages given back after boot).
    pub fn free_range_boot_checked(&mut self, s: Pfn, e: Pfn) {
        self.free_range_inner(s, e, true);
    }

    fn free_range_inner(&mut self, s: Pfn, e: Pfn, check: bool) {
        let top = self.top();
        let b = 1u64 << top;
        let mut p = s;
        while p < e {
            if p & (b - 1) == 0
                && e - p >= b
                && (!check || self.pt.entry(p) == super::pages::E_UNTOUCHED)
                && !self.pt.block_has_uninit(p)
            {
                let n = if check { 1 } else { (e - p) / b };
                self.nr_free_pages += n * b;
                self.area.add_run(MigrateType::Movable as u8, p, n, true);
                p += n * b;
                continue;
            }
            let mut o = if p == 0 { top } else { p.trailing_zeros().min(top) };
            while p + (1u64 << o) > e {
                o -= 1;
            }
            let mt = self.pt.pb_mt(p);
            self.free_one_page(p, o, mt, true);
            p += 1u64 << o;
        }
    }

    /// The block head covering `pfn` and its state, if any: the first
    /// non-empty head found aligning `pfn` down order by order.
    pub fn covering(&self, pfn: Pfn) -> Option<(Pfn, u16)> {
        for o in 0..=self.top() {
            let h = pfn & !((1u64 << o) - 1);
            let s = self.pt.state(h);
            if kind(s) == K_NONE {
                continue;
            }
            return (st_order(s) >= o).then_some((h, s));
        }
        None
    }

    /// Is `pfn` free: inside a free buddy block or on a pcp list?
    /// (slow; for queries and errors)
    pub fn is_free_pfn(&self, pfn: Pfn) -> bool {
        let e = self.pt.entry(pfn);
        if e == super::pages::E_UNTOUCHED {
            let b = pfn & !((1u64 << self.top()) - 1);
            return self.area.run_contains(b);
        }
        if e < super::pages::E_DESC {
            return false;
        }
        matches!(self.covering(pfn), Some((_, s)) if kind(s) == K_FREE || kind(s) == super::pages::K_PCP)
    }

    /// If `pfn` lies inside an allocated block, its head and order.
    pub fn alloc_head_of(&self, pfn: Pfn) -> Option<(Pfn, u32)> {
        let e = self.pt.entry(pfn);
        if (1..super::pages::E_DESC).contains(&e) {
            return Some((pfn & !((1u64 << self.top()) - 1), self.top()));
        }
        if e < super::pages::E_DESC {
            return None;
        }
        match self.covering(pfn) {
            Some((h, s)) if kind(s) == K_ALLOC => Some((h, st_order(s))),
            _ => None,
        }
    }
}
