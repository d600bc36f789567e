//! `free_area[order]`: one free list per migratetype and `nr_free`.
//!
//! Orders below the top one use intrusive doubly linked lists whose links
//! live in the block descriptors (O(1) removal of a buddy). The top order
//! (MAX_ORDER-1) never merges further and is only ever taken at the head, so
//! its lists are deques of runs `(first pfn, number of blocks)` of
//! consecutive blocks: a 2 TiB node freed at boot is one run.

use super::migratetype::NR_MT;
use super::pages::{mk, PageTable, K_FREE, K_NONE, NIL};
use super::pcp::Ring;
use crate::units::Pfn;

/// Array size for per-order data (max_order is at most 16).
pub(crate) const MAX_ORDERS: usize = 16;

pub(crate) struct FreeArea {
    pub top: u32,
    /// (head, tail) per order below `top`, per migratetype.
    pub list: [[(u64, u64); NR_MT]; MAX_ORDERS],
    /// Runs of whole top-order blocks per migratetype.
    pub runs: [Ring<(u64, u64)>; NR_MT],
    /// Free blocks per order per migratetype.
    pub count: [[u64; NR_MT]; MAX_ORDERS],
    /// `free_area[order].nr_free`.
    pub nr_free: [u64; MAX_ORDERS],
}

#[inline]
fn set_next(pt: &mut PageTable, pfn: Pfn, v: u64) {
    if let Some(i) = pt.si(pfn) {
        pt.nx[i] = v;
    }
}
#[inline]
fn set_prev(pt: &mut PageTable, pfn: Pfn, v: u64) {
    if let Some(i) = pt.si(pfn) {
        pt.pv[i] = v;
    }
}
#[inline]
fn next_of(pt: &PageTable, pfn: Pfn) -> u64 {
    pt.si(pfn).map_or(NIL, |i| pt.nx[i])
}

impl FreeArea {
    pub fn new(max_order: u32) -> Self {
        let top = max_order - 1;
        FreeArea {
            top,
            list: [[(NIL, NIL); NR_MT]; MAX_ORDERS],
            runs: Default::default(),
            count: [[0; NR_MT]; MAX_ORDERS],
            nr_free: [0; MAX_ORDERS],
        }
    }

    #[inline]
    pub fn is_empty(&self, order: u32, mt: u8) -> bool {
        self.count[order as usize][mt as usize] == 0
    }

    /// Add a free block (its descriptor must exist below the top order) to
    /// the head or tail of its list and mark its head page free.
    #[inline]
    pub fn add(&mut self, pt: &mut PageTable, pfn: Pfn, order: u32, mt: u8, tail: bool) {
        if order == self.top {
            self.count[order as usize][mt as usize] += 1;
            self.nr_free[order as usize] += 1;
            pt.set_state(pfn, mk(K_FREE, order, mt));
            self.push_run(mt, pfn, 1, tail);
            return;
        }
        let i = pt.si(pfn);
        self.add_at(pt, pfn, i, order, mt, tail);
    }

    /// [`Self::add`] below the top order, the state index of `pfn` known.
    #[inline]
    pub fn add_at(&mut self, pt: &mut PageTable, pfn: Pfn, i: Option<usize>, order: u32, mt: u8, tail: bool) {
        self.count[order as usize][mt as usize] += 1;
        self.nr_free[order as usize] += 1;
        let (head, tl) = self.list[order as usize][mt as usize];
        if let Some(i) = i {
            pt.st[i] = mk(K_FREE, order, mt);
            if tail {
                pt.nx[i] = NIL;
                pt.pv[i] = tl;
            } else {
                pt.pv[i] = NIL;
                pt.nx[i] = head;
            }
        }
        if tail {
            if tl != NIL {
                set_next(pt, tl, pfn);
            }
            let h = if head == NIL { pfn } else { head };
            self.list[order as usize][mt as usize] = (h, pfn);
        } else {
            if head != NIL {
                set_prev(pt, head, pfn);
            }
            let t = if tl == NIL { pfn } else { tl };
            self.list[order as usize][mt as usize] = (pfn, t);
        }
    }

    /// [`Self::add`] of a top-order block with a descriptor whose head
    /// state index is `i`.
    #[inline]
    pub fn add_top_at(&mut self, pt: &mut PageTable, pfn: Pfn, i: usize, mt: u8, tail: bool) {
        self.count[self.top as usize][mt as usize] += 1;
        self.nr_free[self.top as usize] += 1;
        pt.st[i] = mk(K_FREE, self.top, mt);
        self.push_run(mt, pfn, 1, tail);
    }

    /// Add `n` consecutive untouched top-order blocks starting at `pfn`.
    pub fn add_run(&mut self, mt: u8, pfn: Pfn, n: u64, tail: bool) {
        self.count[self.top as usize][mt as usize] += n;
        self.nr_free[self.top as usize] += n;
        self.push_run(mt, pfn, n, tail);
    }

    #[inline]
    fn push_run(&mut self, mt: u8, pfn: Pfn, n: u64, tail: bool) {
        let b = 1u64 << self.top;
        let q = &mut self.runs[mt as usize];
        if tail {
            match q.back_mut() {
                Some(r) if r.0 + r.1 * b == pfn => r.1 += n,
                _ => q.push_back((pfn, n)),
            }
        } else {
            match q.front_mut() {
                Some(r) if pfn + n * b == r.0 => {
                    r.0 = pfn;
                    r.1 += n;
                }
                _ => q.push_front((pfn, n)),
            }
        }
    }

    /// Remove a block below the top order from its list; clears its state.
    #[inline]
    pub fn del(&mut self, pt: &mut PageTable, pfn: Pfn, order: u32, mt: u8) {
        match pt.si(pfn) {
            Some(i) => self.del_at(pt, i, order, mt),
            None => {
                self.count[order as usize][mt as usize] -= 1;
                self.nr_free[order as usize] -= 1;
                self.unlink(pt, NIL, NIL, order, mt);
            }
        }
    }

    /// [`Self::del`] of the block whose state index (`PageTable::si`) is `i`.
    #[inline]
    pub fn del_at(&mut self, pt: &mut PageTable, i: usize, order: u32, mt: u8) {
        debug_assert!(order < self.top);
        self.count[order as usize][mt as usize] -= 1;
        self.nr_free[order as usize] -= 1;
        pt.st[i] = K_NONE;
        let (n, p) = (pt.nx[i], pt.pv[i]);
        self.unlink(pt, n, p, order, mt);
    }

    #[inline]
    fn unlink(&mut self, pt: &mut PageTable, n: u64, p: u64, order: u32, mt: u8) {
        let (mut head, mut tail) = self.list[order as usize][mt as usize];
        if p != NIL {
            set_next(pt, p, n);
        } else {
            head = n;
        }
        if n != NIL {
            set_prev(pt, n, p);
        } else {
            tail = p;
        }
        self.list[order as usize][mt as usize] = (head, tail);
    }

    /// The first block of a list (`get_page_from_free_area`).
    #[inline]
    pub fn head(&self, order: u32, mt: u8) -> Option<Pfn> {
        if order == self.top {
            self.runs[mt as usize].front().map(|r| r.0)
        } else {
            let h = self.list[order as usize][mt as usize].0;
            (h != NIL).then_some(h)
        }
    }

    /// Take the first top-order block of `mt` off its run; its head state
    /// (if the block has a descriptor) is left for the caller to clear.
    #[inline]
    pub fn pop_run_head(&mut self, mt: u8) -> Option<Pfn> {
        let b = 1u64 << self.top;
        let q = &mut self.runs[mt as usize];
        let r = q.front_mut()?;
        let pfn = r.0;
        r.0 += b;
        r.1 -= 1;
        if r.1 == 0 {
            q.pop_front();
        }
        self.count[self.top as usize][mt as usize] -= 1;
        self.nr_free[self.top as usize] -= 1;
        Some(pfn)
    }

    /// Remove and return the first block of a list; its state is cleared.
    #[inline]
    pub fn pop_head(&mut self, pt: &mut PageTable, order: u32, mt: u8) -> Option<Pfn> {
        if order == self.top {
            let pfn = self.pop_run_head(mt)?;
            pt.set_state(pfn, K_NONE);
            return Some(pfn);
        }
        let pfn = self.head(order, mt)?;
        self.del(pt, pfn, order, mt);
        Some(pfn)
    }

    /// Is the top-order block starting at `pfn` in one of the runs?
    /// (Slow: used by queries and error paths only.)
    pub fn run_contains(&self, pfn: Pfn) -> bool {
        let b = 1u64 << self.top;
        self.runs.iter().any(|q| q.iter().any(|&(s, n)| pfn >= s && pfn < s + n * b && (pfn - s) % b == 0))
    }

    /// Walk the list of (order, mt) from head to tail.
    pub fn walk(&self, pt: &PageTable, order: u32, mt: u8, mut f: impl FnMut(Pfn)) {
        if order == self.top {
            let b = 1u64 << self.top;
            for &(s, n) in self.runs[mt as usize].iter() {
                for i in 0..n {
                    f(s + i * b);
                }
            }
        } else {
            let mut p = self.list[order as usize][mt as usize].0;
            while p != NIL {
                f(p);
                p = next_of(pt, p);
            }
        }
    }
}
