//! Unmapping and protection changes, with splitting of huge leaves that a
//! range covers only in part.

use super::{PageTable, PteFlags, ROOT};
use crate::error::{MmError, Result};
use crate::page_source::PageSource;
use crate::units::{Pfn, PAGE_SHIFT, PAGE_SIZE};

impl PageTable {
    /// Unmap the page of `size` bytes at `virt` (`size` is one of the
    /// format's page sizes, `virt` aligned to it). The range must be mapped
    /// entirely, by one leaf or several; a larger leaf around it is split.
    pub fn unmap(&mut self, src: &mut dyn PageSource, virt: u64, size: u64) -> Result<()> {
        self.level_of_size(size)?;
        self.check_range(virt, size, size)?;
        self.unmap_range(src, virt, size)
    }

    /// Unmap `[virt, virt + len)` (4 KiB aligned). Every page of the range
    /// must be mapped ([`MmError::NotMapped`] names the first hole). Huge
    /// leaves covered in part are split into the next smaller size (a new
    /// table each) so that only the range goes; tables left empty go back
    /// to `src`. On error nothing changed.
    pub fn unmap_range(&mut self, src: &mut dyn PageSource, virt: u64, len: u64) -> Result<()> {
        self.unmap_range_with(src, virt, len, true)
    }

    /// `vunmap_range`: like [`Self::unmap_range`], but tables left empty
    /// stay in place, as the kernel keeps the page tables of its vmalloc
    /// space once made (a later area there needs no new ones).
    pub fn unmap_range_keep_tables(&mut self, src: &mut dyn PageSource, virt: u64, len: u64) -> Result<()> {
        self.unmap_range_with(src, virt, len, false)
    }

    fn unmap_range_with(&mut self, src: &mut dyn PageSource, virt: u64, len: u64, free_tables: bool) -> Result<()> {
        let (t, end) = self.check_range(virt, len, PAGE_SIZE)?;
        if let Some(hole) = self.first_unmapped(ROOT, 0, t, end) {
            return Err(MmError::NotMapped { addr: self.to_va(hole) });
        }
        self.split_edges(src, t, end, None)?;
        self.clear_rec(src, ROOT, 0, t, end, free_tables);
        Ok(())
    }

    /// Set the flags of the page of `size` bytes at `virt` to `flags`
    /// (splitting a larger leaf around it).
    pub fn protect(&mut self, src: &mut dyn PageSource, virt: u64, size: u64, flags: PteFlags) -> Result<()> {
        self.level_of_size(size)?;
        self.check_range(virt, size, size)?;
        self.protect_range(src, virt, size, flags)
    }

    /// Set the flags of every page in `[virt, virt + len)` to `flags`. The
    /// range must be mapped entirely. A huge leaf covered in part is split
    /// unless it already has `flags`. On error nothing changed.
    pub fn protect_range(&mut self, src: &mut dyn PageSource, virt: u64, len: u64, flags: PteFlags) -> Result<()> {
        self.check_flags(flags)?;
        let (t, end) = self.check_range(virt, len, PAGE_SIZE)?;
        if let Some(hole) = self.first_unmapped(ROOT, 0, t, end) {
            return Err(MmError::NotMapped { addr: self.to_va(hole) });
        }
        self.split_edges(src, t, end, Some(flags))?;
        self.protect_rec(ROOT, 0, t, end, flags);
        Ok(())
    }

    /// First table-space address in `[t, end)` that is not mapped.
    pub(crate) fn first_unmapped(&self, slot: u32, level: usize, t: u64, end: u64) -> Option<u64> {
        let lv = self.lv[level];
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let chunk_end = ((cur & !(lv.size - 1)) + lv.size).min(end);
            match self.child(slot, idx) {
                Some(c) => {
                    if let Some(h) = self.first_unmapped(c, level + 1, cur, chunk_end) {
                        return Some(h);
                    }
                }
                None if self.t.entries[slot as usize][idx] != 0 => {}
                None => return Some(cur),
            }
            cur = chunk_end;
        }
        None
    }

    /// First table-space address in `[t, end)` that is mapped.
    pub(crate) fn first_mapped(&self, slot: u32, level: usize, t: u64, end: u64) -> Option<u64> {
        let lv = self.lv[level];
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let chunk_end = ((cur & !(lv.size - 1)) + lv.size).min(end);
            match self.child(slot, idx) {
                Some(c) => {
                    if let Some(h) = self.first_mapped(c, level + 1, cur, chunk_end) {
                        return Some(h);
                    }
                }
                None if self.t.entries[slot as usize][idx] != 0 => return Some(cur),
                None => {}
            }
            cur = chunk_end;
        }
        None
    }

    /// The leaves to split so that `boundary` starts a leaf, as
    /// `(level, base)`; none when `keep` says the leaf may stay whole.
    fn split_chain(&self, boundary: u64, keep: Option<PteFlags>, out: &mut Vec<(usize, u64)>) {
        if boundary > self.space_mask {
            return;
        }
        let Some((slot, idx, level)) = self.find_leaf(boundary) else { return };
        if let Some(f) = keep {
            if self.enc.flags(self.t.entries[slot as usize][idx]) == f {
                return;
            }
        }
        for l in level..self.nlevels {
            let size = self.lv[l].size;
            if boundary & (size - 1) == 0 {
                break;
            }
            let base = boundary & !(size - 1);
            if !out.contains(&(l, base)) {
                out.push((l, base));
            }
        }
    }

    /// Split the leaves around `t` and `end` so both are leaf boundaries
    /// (skipping leaves that already have `keep`). Takes every table page it
    /// needs before changing anything.
    pub(crate) fn split_edges(
        &mut self,
        src: &mut dyn PageSource,
        t: u64,
        end: u64,
        keep: Option<PteFlags>,
    ) -> Result<()> {
        let mut chain = Vec::new();
        self.split_chain(t, keep, &mut chain);
        self.split_chain(end, keep, &mut chain);
        if chain.is_empty() {
            return Ok(());
        }
        let mut pool = Self::alloc_pool(src, chain.len())?;
        for b in [t, end] {
            if b <= self.space_mask {
                self.split_to(b, keep, &mut pool);
            }
        }
        // Every page taken was used (the chain counted exactly the splits).
        Self::free_pool(src, pool);
        Ok(())
    }

    /// Split leaves until `boundary` starts one.
    fn split_to(&mut self, boundary: u64, keep: Option<PteFlags>, pool: &mut Vec<Pfn>) {
        loop {
            let Some((slot, idx, level)) = self.find_leaf(boundary) else { return };
            let size = self.lv[level].size;
            if boundary & (size - 1) == 0 || level + 1 >= self.nlevels {
                return;
            }
            if let Some(f) = keep {
                if self.enc.flags(self.t.entries[slot as usize][idx]) == f {
                    return;
                }
            }
            let Some(pfn) = pool.pop() else { return };
            self.split_leaf(slot, idx, level, pfn);
        }
    }

    /// Replace leaf `idx` of `slot` at `level` by a table (page `pfn`) of
    /// leaves of the next level mapping the same memory with the same flags.
    pub(crate) fn split_leaf(&mut self, slot: u32, idx: usize, level: usize, pfn: Pfn) {
        let raw = self.t.entries[slot as usize][idx];
        let flags = self.enc.flags(raw);
        let phys = self.enc.pfn(raw) << PAGE_SHIFT;
        let child = self.t.insert(pfn, level + 1);
        let sub = self.lv[level + 1];
        let n = (sub.mask + 1) as usize;
        for i in 0..n {
            let r = self.leaf_raw(level + 1, phys + i as u64 * sub.size, flags);
            self.put_leaf(child, i, level + 1, r);
        }
        // The entry turns from leaf to table; `used` of `slot` is unchanged.
        let s = slot as usize;
        self.leaves[level] -= 1;
        self.t.entries[s][idx] = self.enc.table(pfn);
        self.t.children[s][idx] = child + 1;
    }

    /// Clear every leaf entirely inside `[t, end)` below `slot`, freeing
    /// tables that become empty. Leaves covered in part are left alone
    /// (callers split first).
    pub(crate) fn clear_rec(&mut self, src: &mut dyn PageSource, slot: u32, level: usize, t: u64, end: u64, free_tables: bool) {
        let lv = self.lv[level];
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let base = cur & !(lv.size - 1);
            let chunk_end = (base + lv.size).min(end);
            match self.child(slot, idx) {
                Some(c) => {
                    self.clear_rec(src, c, level + 1, cur, chunk_end, free_tables);
                    if free_tables && self.t.meta[c as usize].used == 0 {
                        self.unlink_free(src, slot, idx);
                    }
                }
                None if self.t.entries[slot as usize][idx] != 0 && cur == base && chunk_end == base + lv.size => {
                    self.clear_leaf(slot, idx, level);
                }
                None => {}
            }
            cur = chunk_end;
        }
    }

    /// Rewrite the flags of every leaf entirely inside `[t, end)`.
    fn protect_rec(&mut self, slot: u32, level: usize, t: u64, end: u64, flags: PteFlags) {
        let lv = self.lv[level];
        let huge = level + 1 < self.nlevels;
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let base = cur & !(lv.size - 1);
            let chunk_end = (base + lv.size).min(end);
            match self.child(slot, idx) {
                Some(c) => self.protect_rec(c, level + 1, cur, chunk_end, flags),
                None => {
                    let raw = self.t.entries[slot as usize][idx];
                    if raw != 0 && cur == base && chunk_end == base + lv.size {
                        self.t.entries[slot as usize][idx] = self.enc.leaf(self.enc.pfn(raw), flags, huge);
                    }
                }
            }
            cur = chunk_end;
        }
    }
}
