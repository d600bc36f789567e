//! Attribute changes the way x86's `change_page_attr` makes them: flags set
//! and cleared over a range, where a huge leaf is split only when the change
//! alters it and the range covers it in part.

use super::{PageTable, PteFlags, ROOT};
use crate::error::{MmError, Result};
use crate::page_source::PageSource;
use crate::units::PAGE_SIZE;

impl PageTable {
    /// For every page of `[virt, virt + len)` (mapped entirely), set the
    /// flags `set` and clear the flags `clear`. A leaf whose flags the
    /// change leaves as they are stays whole, however little of it the
    /// range covers; a leaf that changes and is covered whole changes in
    /// place; a leaf that changes and is covered in part is split, down to
    /// the size the range's edge needs. With `account`, each split is
    /// counted into [`PageTable::direct_pages_count`] as x86's
    /// `split_page_count` does (one fewer page of the size split, 512 more
    /// of the next). Returns how many leaves changed flags (after
    /// splitting). `NotMapped` names the first hole, before anything
    /// changes.
    pub fn change_attr(
        &mut self,
        src: &mut dyn PageSource,
        virt: u64,
        len: u64,
        set: PteFlags,
        clear: PteFlags,
        account: bool,
    ) -> Result<u64> {
        self.check_flags(set)?;
        self.check_flags(clear)?;
        let (t, end) = self.check_range(virt, len, PAGE_SIZE)?;
        if let Some(hole) = self.first_unmapped(ROOT, 0, t, end) {
            return Err(MmError::NotMapped { addr: self.to_va(hole) });
        }
        let mut changed = 0;
        let mut cur = t;
        while cur < end {
            let (slot, idx, level) = self.find_leaf(cur).ok_or(MmError::NotMapped { addr: self.to_va(cur) })?;
            let size = self.lv[level].size;
            let seg_end = ((cur & !(size - 1)) + size).min(end);
            let old = self.enc.flags(self.t.entries[slot as usize][idx]);
            let new = PteFlags::from_bits_truncate((old.bits() | set.bits()) & !clear.bits()) & self.enc.enabled;
            if new != old {
                let base = cur & !(size - 1);
                let before = self.leaves_per_level(base, base + size);
                self.protect_range(src, self.to_va(cur), seg_end - cur, new)?;
                changed += self.leaves_in(cur, seg_end);
                if account {
                    let after = self.leaves_per_level(base, base + size);
                    self.count_splits(&before, &after);
                }
            }
            cur = seg_end;
        }
        Ok(changed)
    }

    /// x86's `set_memory_np`: the pages of `[virt, virt + len)` (mapped
    /// entirely) stop being present. A leaf the range covers whole goes as
    /// it is; one covered in part is split first, down to the size the
    /// range's edge needs (counted with `account`, as [`Self::change_attr`]
    /// counts). The tables stay, the kernel's non-present entries still
    /// sitting in them. Returns how many leaves went. `NotMapped` names
    /// the first hole, before anything changes.
    pub fn set_not_present(&mut self, src: &mut dyn PageSource, virt: u64, len: u64, account: bool) -> Result<u64> {
        let (t, end) = self.check_range(virt, len, PAGE_SIZE)?;
        if let Some(hole) = self.first_unmapped(ROOT, 0, t, end) {
            return Err(MmError::NotMapped { addr: self.to_va(hole) });
        }
        // the leaves holding the range's edges bound every split it makes
        let leaf_span = |pt: &Self, at: u64| {
            let (_, _, level) = pt.find_leaf(at).ok_or(MmError::NotMapped { addr: pt.to_va(at) })?;
            let size = pt.lv[level].size;
            Ok::<_, MmError>((at & !(size - 1), (at & !(size - 1)) + size))
        };
        let (lo, _) = leaf_span(self, t)?;
        let (_, hi) = leaf_span(self, end - 1)?;
        let before = self.leaves_per_level(lo, hi);
        self.split_edges(src, t, end, None)?;
        if account {
            let after = self.leaves_per_level(lo, hi);
            self.count_splits(&before, &after);
        }
        let gone = self.leaves_in(t, end);
        self.clear_rec(src, ROOT, 0, t, end, false);
        Ok(gone)
    }

    /// `split_page_count` for every split that turned the leaves `before`
    /// into `after`, biggest first: each takes one page of its size from
    /// the count and adds a table's worth of the next, unless no page of
    /// that size is counted (a split of the image's mapping on a machine
    /// whose direct map has none).
    fn count_splits(&mut self, before: &[u64], after: &[u64]) {
        // splits at a level: the leaves it lost, counting the ones that
        // splits above it made
        let mut made = 0u64;
        for l in 0..self.nlevels {
            let had = before[l] + made;
            let splits = had.saturating_sub(after[l]);
            made = 0;
            if l + 1 < self.nlevels {
                let per_split = self.lv[l].size / self.lv[l + 1].size;
                made = splits * per_split;
                for _ in 0..splits {
                    if self.direct_pages[l] > 0 {
                        self.direct_pages[l] -= 1;
                        self.direct_pages[l + 1] += per_split as i64;
                    }
                }
            }
        }
    }

    /// Leaves mapping `[t, end)` (table space), per level.
    fn leaves_per_level(&self, t: u64, end: u64) -> [u64; super::format::MAX_LEVELS] {
        let mut per = [0u64; super::format::MAX_LEVELS];
        let mut cur = t;
        while cur < end {
            let Some((_, _, level)) = self.find_leaf(cur) else { break };
            let size = self.lv[level].size;
            per[level] += 1;
            cur = ((cur & !(size - 1)) + size).min(end);
        }
        per
    }

    /// x86's `direct_pages_count` as `(page size, count)`, smallest size
    /// first: what `init_memory_mapping` counted, then accounted splits.
    pub fn direct_pages_count(&self) -> Vec<(u64, i64)> {
        let mut out: Vec<(u64, i64)> = (0..self.nlevels)
            .filter(|&l| self.lv[l].leaf)
            .map(|l| (self.lv[l].size, self.direct_pages[l]))
            .collect();
        out.sort_unstable();
        out
    }

    /// Number of leaves mapping `[t, end)` (table space).
    fn leaves_in(&self, t: u64, end: u64) -> u64 {
        let mut n = 0;
        let mut cur = t;
        while cur < end {
            let Some((_, _, level)) = self.find_leaf(cur) else { break };
            let size = self.lv[level].size;
            n += 1;
            cur = ((cur & !(size - 1)) + size).min(end);
        }
        n
    }
}
