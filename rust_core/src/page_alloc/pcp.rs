//! Per-cpu page lists (`per_cpu_pages`) for order-0 pages:
//! `rmqueue_bulk` refills, `free_pcppages_bulk` drains.

use super::migratetype::{MigrateType, MIGRATE_PCPTYPES};
use super::pages::{kind, mk, mt as st_mt, K_ALLOC, K_NONE, K_PCP};
use super::zone::Zone;
use crate::units::Pfn;

/// A deque (a power-of-two ring) with the few operations the pcp lists and
/// the top-order runs need, each small enough to inline into the hot paths
/// (`VecDeque::push_front` is an out-of-line call).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring<T> {
    /// `buf.len()` is 0 or a power of two.
    buf: Vec<T>,
    head: usize,
    len: usize,
}

/// A pcp list.
pub(crate) type PcpList = Ring<Pfn>;

impl<T: Copy + Default> Ring<T> {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    fn mask(&self) -> usize {
        self.buf.len().wrapping_sub(1)
    }
    #[cold]
    fn grow(&mut self) {
        let old = self.buf.len();
        let mut b = vec![T::default(); (old * 2).max(64)];
        for (i, x) in b.iter_mut().enumerate().take(self.len) {
            *x = self.buf[(self.head + i) & (old - 1)];
        }
        self.buf = b;
        self.head = 0;
    }
    #[inline]
    pub fn push_front(&mut self, p: T) {
        if self.len == self.buf.len() {
            self.grow();
        }
        self.head = self.head.wrapping_sub(1) & self.mask();
        self.buf[self.head] = p;
        self.len += 1;
    }
    #[inline]
    pub fn push_back(&mut self, p: T) {
        if self.len == self.buf.len() {
            self.grow();
        }
        let i = (self.head + self.len) & self.mask();
        self.buf[i] = p;
        self.len += 1;
    }
    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let p = self.buf[self.head];
        self.head = (self.head + 1) & self.mask();
        self.len -= 1;
        Some(p)
    }
    #[inline]
    pub fn pop_back(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.buf[(self.head + self.len) & self.mask()])
    }
    #[inline]
    pub fn front(&self) -> Option<&T> {
        (self.len > 0).then(|| &self.buf[self.head])
    }
    #[inline]
    pub fn front_mut(&mut self) -> Option<&mut T> {
        (self.len > 0).then(|| &mut self.buf[self.head])
    }
    #[inline]
    pub fn back_mut(&mut self) -> Option<&mut T> {
        let m = self.mask();
        (self.len > 0).then(|| &mut self.buf[(self.head + self.len - 1) & m])
    }
    /// Head to tail.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len).map(move |i| &self.buf[(self.head + i) & self.mask()])
    }
}

impl Ring<Pfn> {
    /// `push_back` of the `n` pfns from `start` on.
    #[inline]
    pub fn push_back_run(&mut self, start: Pfn, n: usize) {
        while self.len + n > self.buf.len() {
            self.grow();
        }
        let (m, at) = (self.mask(), self.head + self.len);
        for k in 0..n {
            self.buf[(at + k) & m] = start.wrapping_add(k as u64);
        }
        self.len += n;
    }
}

/// One CPU's lists for one zone.
#[derive(Debug, Clone)]
pub(crate) struct Pcp {
    pub lists: [PcpList; MIGRATE_PCPTYPES],
    pub count: u64,
    pub high: u64,
    pub batch: u64,
    pub free_factor: u32,
}

impl Pcp {
    /// The boot pageset: high 0, batch 1 (every page goes straight through).
    pub fn boot() -> Self {
        Pcp { lists: Default::default(), count: 0, high: 0, batch: 1, free_factor: 0 }
    }
}

/// `zone_batchsize`.
pub(crate) fn zone_batchsize(managed: u64) -> u64 {
    let mut batch = (managed >> 10).min((1024 * 1024) >> 12);
    batch /= 4;
    if batch < 1 {
        batch = 1;
    }
    let x = batch + batch / 2;
    (1u64 << (63 - x.leading_zeros())) - 1
}

/// `zone_highsize` (`cpu_online` = 0). `v6_1` selects the 6.1 split rule
/// for nodes without CPUs.
pub(crate) fn zone_highsize(
    low_wmark: u64,
    managed: u64,
    batch: u64,
    high_fraction: u64,
    node_cpus: u64,
    online_cpus: u64,
    v6_1: bool,
) -> u64 {
    let total = managed.checked_div(high_fraction).unwrap_or(low_wmark);
    let split = if v6_1 {
        if node_cpus == 0 {
            online_cpus.max(1)
        } else {
            node_cpus
        }
    } else {
        node_cpus.max(1)
    };
    (total / split).max(batch << 2)
}

/// `nr_pcp_free`.
fn nr_pcp_free(pcp: &mut Pcp, high: u64, batch: u64) -> u64 {
    if high < batch {
        return 1;
    }
    let min_nr = batch;
    let max_nr = high - batch;
    let b = batch.checked_shl(pcp.free_factor).unwrap_or(u64::MAX);
    if b < max_nr {
        pcp.free_factor += 1;
    }
    b.max(min_nr).min(max_nr)
}

impl Zone {
    /// `rmqueue_bulk` into `cpu`'s list of `mt`: `count` times
    /// `__rmqueue(0)`, carved a block at a time. While `mt` has a free block,
    /// the smallest one is what `__rmqueue_smallest(0)` takes next, and
    /// taking `k` pages of it one by one leaves exactly the aligned
    /// decomposition of its tail, one block per lower order, on lists that
    /// were empty: so the block is split once here with the same result.
    /// Only when `mt` has nothing left does a page go through `__rmqueue`
    /// (fallback, stealing) on its own.
    fn rmqueue_bulk(&mut self, cpu: usize, mt: u8, count: u64, alloc_flags: u32) -> u64 {
        let top = self.top();
        self.pcp_refills += 1;
        let mut n = 0;
        while n < count {
            let cur = if top == 0 { None } else { (0..=top).find(|&o| !self.area.is_empty(o, mt)) };
            let Some(cur) = cur else {
                let Some(pfn) = self.rmqueue(0, mt, alloc_flags) else { break };
                self.pt.set_state(pfn, mk(K_PCP, 0, mt));
                self.pcp[cpu].lists[mt as usize].push_back(pfn);
                n += 1;
                continue;
            };
            let Some(pfn) = self.area.pop_head(&mut self.pt, cur, mt) else { break };
            if self.pt.entry(pfn) < super::pages::E_DESC {
                self.pt.ensure_desc(pfn, K_NONE);
            }
            let size = 1u64 << cur;
            let take = (count - n).min(size);
            self.nr_free_pages -= take;
            if let Some(i) = self.pt.si(pfn) {
                self.pt.st[i..i + take as usize].fill(mk(K_PCP, 0, mt));
            }
            self.pcp[cpu].lists[mt as usize].push_back_run(pfn, take as usize);
            let mut off = take;
            while off < size {
                let o = off.trailing_zeros();
                self.area.add(&mut self.pt, pfn + off, o, mt, false);
                off += 1u64 << o;
            }
            n += take;
        }
        self.pcp[cpu].count += n;
        n
    }

    /// Up to `max` more order-0 allocations served from the head of
    /// `cpu`'s list of `mt`, appended to `out` (what as many calls of
    /// `rmqueue_pcplist` would return while the list is not empty).
    pub fn pcp_take(&mut self, cpu: usize, mt: u8, max: usize, out: &mut Vec<Pfn>) -> usize {
        let pcp = &mut self.pcp[cpu];
        let list = &mut pcp.lists[mt as usize];
        let k = max.min(list.len());
        if k == 0 {
            return 0;
        }
        pcp.free_factor = if k >= 32 { 0 } else { pcp.free_factor >> k };
        pcp.count -= k as u64;
        let st = mk(K_ALLOC, 0, mt);
        let pt = &mut self.pt;
        out.reserve(k);
        // the max-order block of the previous page and its first state
        // index: a refilled list is runs of consecutive pages
        let (mut blo, mut bhi, mut bbase) = (1u64, 0u64, 0usize);
        for p in (0..k).filter_map(|_| list.pop_front()) {
            if p >= blo && p < bhi {
                pt.st[bbase + (p - blo) as usize] = st;
            } else if let Some(i) = pt.si(p) {
                pt.st[i] = st;
                let off = pt.off(p);
                (blo, bhi, bbase) = (p - off as u64, p - off as u64 + (1u64 << pt.shift), i - off);
            }
            out.push(p);
        }
        k
    }

    /// `rmqueue_pcplist`: an order-0 page from `cpu`'s list, refilled in
    /// batches. The page is marked allocated.
    #[inline]
    pub fn pcp_alloc(&mut self, cpu: usize, mt: u8, alloc_flags: u32) -> Option<Pfn> {
        let pcp = &mut self.pcp[cpu];
        pcp.free_factor >>= 1;
        let pfn = match pcp.lists[mt as usize].pop_front() {
            Some(p) => {
                pcp.count -= 1;
                p
            }
            None => {
                let batch = pcp.batch;
                if self.rmqueue_bulk(cpu, mt, batch, alloc_flags) == 0 {
                    return None;
                }
                let pcp = &mut self.pcp[cpu];
                pcp.count -= 1;
                pcp.lists[mt as usize].pop_front()?
            }
        };
        self.pt.set_state(pfn, mk(K_ALLOC, 0, mt));
        Some(pfn)
    }

    /// `free_unref_page` for a validated allocated order-0 page.
    #[inline]
    pub fn pcp_free(&mut self, cpu: usize, pfn: Pfn) {
        if !self.pcp_free_fast(cpu, pfn) {
            // a validated page misses the lists only when its pageblock
            // is isolated: then it goes straight back to the buddy lists
            let pb = self.pt.pb_mt(pfn);
            debug_assert_eq!(pb, MigrateType::Isolate as u8);
            self.pt.set_state(pfn, K_NONE);
            self.free_one_page(pfn, 0, pb, false);
        }
    }

    /// Put a page whose pageblock is of type `pb` on `cpu`'s list for it
    /// (the pcp types; anything else on the movable list) and drain a
    /// batch once the count reaches `high`.
    #[inline]
    fn pcp_push(&mut self, cpu: usize, pfn: Pfn, pb: u8) {
        let list = if (pb as usize) < MIGRATE_PCPTYPES { pb } else { MigrateType::Movable as u8 };
        let pcp = &mut self.pcp[cpu];
        pcp.lists[list as usize].push_front(pfn);
        pcp.count += 1;
        let high = pcp.high;
        if pcp.count >= high {
            let batch = pcp.batch;
            let n = nr_pcp_free(pcp, high, batch);
            self.free_pcppages_bulk(cpu, n);
        }
    }

    /// Fast `free_unref_page`: validates and frees in one descriptor
    /// lookup. Returns false (nothing changed) when `pfn` is not an
    /// allocated order-0 head or its pageblock is isolated.
    #[inline]
    pub fn pcp_free_fast(&mut self, cpu: usize, pfn: Pfn) -> bool {
        let e = self.pt.entry(pfn);
        if e < super::pages::E_DESC {
            return false;
        }
        let idx = (e - super::pages::E_DESC) as usize;
        let off = self.pt.off(pfn);
        let i = (idx << self.pt.shift) + off;
        let s = self.pt.st[i];
        if kind(s) != K_ALLOC || super::pages::order(s) != 0 {
            return false;
        }
        let pb = self.pt.pbm[idx * self.pt.npb + (off >> self.pt.pb_shift)];
        if pb == MigrateType::Isolate as u8 {
            return false;
        }
        self.pt.st[i] = mk(K_PCP, 0, pb);
        self.pcp_push(cpu, pfn, pb);
        true
    }

    /// `free_unref_page` for consecutive pages of a validated batch, all in
    /// this zone (`at[k] >> 16`: the state index of `pfns[k]`). Pages go to
    /// the pcp lists a chunk at a time, a chunk ending where the count
    /// reaches `high` (the only place the one-by-one frees drain).
    pub fn pcp_free_batch(&mut self, cpu: usize, pfns: &[Pfn], at: &[u64]) {
        let mut j = 0;
        while j < pfns.len() {
            let pcp = &self.pcp[cpu];
            let room = pcp.high.saturating_sub(pcp.count).max(1) as usize;
            let end = (j + room).min(pfns.len());
            let mut pushed = 0u64;
            for k in j..end {
                let i = (at[k] >> 16) as usize;
                let pfn = pfns[k];
                let idx = i >> self.pt.shift;
                let pb = self.pt.pbm[idx * self.pt.npb + ((i & ((1usize << self.pt.shift) - 1)) >> self.pt.pb_shift)];
                if pb == MigrateType::Isolate as u8 {
                    self.pt.st[i] = K_NONE;
                    self.free_one_page(pfn, 0, pb, false);
                    continue;
                }
                self.pt.st[i] = mk(K_PCP, 0, pb);
                let list = if (pb as usize) < MIGRATE_PCPTYPES { pb } else { MigrateType::Movable as u8 };
                self.pcp[cpu].lists[list as usize].push_front(pfn);
                pushed += 1;
            }
            let pcp = &mut self.pcp[cpu];
            pcp.count += pushed;
            let high = pcp.high;
            if pushed > 0 && pcp.count >= high {
                let batch = pcp.batch;
                let n = nr_pcp_free(pcp, high, batch);
                self.free_pcppages_bulk(cpu, n);
            }
            j = end;
        }
    }

    /// `free_pcppages_bulk`: give `count` pages back to the buddy lists,
    /// round-robin over the lists, from their tails.
    pub fn free_pcppages_bulk(&mut self, cpu: usize, count: u64) {
        let pcp = &mut self.pcp[cpu];
        let mut count = count.min(pcp.count);
        let mut taken: Vec<Pfn> = Vec::with_capacity(count as usize);
        let mut pindex = 0usize;
        let mut batch_free = 0u64;
        while count > 0 {
            loop {
                batch_free += 1;
                pindex += 1;
                if pindex == MIGRATE_PCPTYPES {
                    pindex = 0;
                }
                if !pcp.lists[pindex].is_empty() {
                    break;
                }
            }
            if batch_free == MIGRATE_PCPTYPES as u64 {
                batch_free = count;
            }
            while let Some(p) = pcp.lists[pindex].pop_back() {
                taken.push(p);
                count -= 1;
                batch_free -= 1;
                if count == 0 || batch_free == 0 || pcp.lists[pindex].is_empty() {
                    break;
                }
            }
        }
        pcp.count -= taken.len() as u64;
        // Pages are freed one by one in `taken` order. A stretch of `taken`
        // that is exactly the pages of an aligned block of order k (each
        // page's buddies inside the block still on the list while the
        // stretch is freed) merges into that block and nothing else, every
        // intermediate block being added to a free list and taken off again:
        // freeing the block whole, with the migratetype of its last page,
        // gives the same lists. Whole stretches are found greedily.
        let top = self.top();
        let mut j = 0;
        while j < taken.len() {
            let p = taken[j];
            let mut k = 0u32;
            while k < top && p & ((2u64 << k) - 1) == 0 && j + (2usize << k) <= taken.len() {
                let (lo, hi) = (j + (1usize << k), j + (2usize << k));
                if !taken[lo..hi].iter().enumerate().all(|(t, &q)| q == p + (1u64 << k) + t as u64) {
                    break;
                }
                k += 1;
            }
            // the stretch lies in one max-order block
            let s = match self.pt.si(p) {
                Some(i) => {
                    let st = &mut self.pt.st[i..i + (1usize << k)];
                    let last = st[st.len() - 1];
                    debug_assert!(st.iter().all(|&x| kind(x) == K_PCP));
                    st.fill(K_NONE);
                    last
                }
                None => K_NONE,
            };
            self.free_one_page(p, k, st_mt(s), false);
            j += 1usize << k;
        }
    }

    /// Drain all of `cpu`'s lists.
    pub fn drain_pcp(&mut self, cpu: usize) {
        let n = self.pcp[cpu].count;
        if n > 0 {
            self.free_pcppages_bulk(cpu, n);
        }
    }
}
