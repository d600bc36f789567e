//! Mapping: single pages, ranges (largest page size or a forced one), and
//! batches.

use super::{PageTable, PteFlags, ROOT};
use crate::error::{MmError, Result};
use crate::page_source::PageSource;
use crate::units::{PhysAddr, PAGE_SIZE};

/// Which page sizes a range mapping may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageSizePolicy {
    /// The largest size that alignment of virtual and physical address and
    /// the remaining length allow, at every step (how the direct map is
    /// built).
    Largest,
    /// Only this size; range, virtual and physical address must be
    /// multiples of it.
    Force(u64),
    /// The largest size not above this one that alignment allows.
    UpTo(u64),
}

/// Resolved policy: the smallest level index (largest page) allowed, and
/// whether only that level is allowed.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    min_level: usize,
    exact: bool,
}

impl PageTable {
    /// Map one page of `size` bytes (one of the format's page sizes) at
    /// `virt` to `phys`. Both must be aligned to `size`.
    ///
    /// Errors: [`MmError::InvalidArgument`] (size, alignment, canonical form,
    /// flags), [`MmError::OutOfRange`] (physical address),
    /// [`MmError::AlreadyMapped`] when anything is mapped in the page's
    /// range, or the source's error when a table page cannot be had.
    pub fn map(
        &mut self,
        src: &mut dyn PageSource,
        virt: u64,
        phys: PhysAddr,
        size: u64,
        flags: PteFlags,
    ) -> Result<()> {
        let level = self.level_of_size(size)?;
        self.check_flags(flags)?;
        let (t, _) = self.check_range(virt, size, size)?;
        self.check_phys(phys, size, size)?;
        // Same table as the last map(): no walk.
        if level > 0 {
            let key = t >> self.lv[level - 1].shift;
            if let Some((hl, hk, hs)) = self.map_hint {
                if hl == level && hk == key {
                    let idx = self.idx(level, t);
                    if self.t.entries[hs as usize][idx] != 0 {
                        return Err(self.conflict_in_entry(hs, idx, level, t, size, virt));
                    }
                    let raw = self.leaf_raw(level, phys, flags);
                    self.put_leaf(hs, idx, level, raw);
                    return Ok(());
                }
            }
        }
        // Read-only walk: find the deepest existing table and conflicts.
        let mut slot = ROOT;
        let mut l = 0;
        while l < level {
            let idx = self.idx(l, t);
            match self.child(slot, idx) {
                Some(c) => {
                    slot = c;
                    l += 1;
                }
                None if self.t.entries[slot as usize][idx] != 0 => {
                    return Err(MmError::AlreadyMapped { addr: virt });
                }
                None => break,
            }
        }
        if l == level && self.t.entries[slot as usize][self.idx(l, t)] != 0 {
            return Err(self.conflict_in_entry(slot, self.idx(l, t), l, t, size, virt));
        }
        let pool = Self::alloc_pool(src, level - l)?;
        for pfn in pool {
            let idx = self.idx(l, t);
            let child = self.t.insert(pfn, l + 1);
            self.link(slot, idx, child);
            slot = child;
            l += 1;
        }
        let raw = self.leaf_raw(level, phys, flags);
        let idx = self.idx(level, t);
        self.put_leaf(slot, idx, level, raw);
        if level > 0 {
            self.map_hint = Some((level, t >> self.lv[level - 1].shift, slot));
        }
        Ok(())
    }

    /// The error for mapping over the occupied entry `idx` of `slot`: the
    /// first mapped address under it.
    #[cold]
    fn conflict_in_entry(&self, slot: u32, idx: usize, level: usize, t: u64, size: u64, virt: u64) -> MmError {
        let at = match self.child(slot, idx) {
            Some(c) => self.first_mapped(c, level + 1, t, t + size).map_or(virt, |a| self.to_va(a)),
            None => virt,
        };
        MmError::AlreadyMapped { addr: at }
    }

    /// Map `[virt, virt + len)` to `[phys, phys + len)` with page sizes
    /// chosen by `policy`. Nothing in the range may be mapped already
    /// ([`MmError::AlreadyMapped`] names the first conflict); on any error
    /// the table is left as it was.
    pub fn map_range(
        &mut self,
        src: &mut dyn PageSource,
        virt: u64,
        phys: PhysAddr,
        len: u64,
        flags: PteFlags,
        policy: PageSizePolicy,
    ) -> Result<()> {
        self.check_flags(flags)?;
        let (pol, align) = match policy {
            PageSizePolicy::Largest => (Policy { min_level: 0, exact: false }, PAGE_SIZE),
            PageSizePolicy::Force(size) => (Policy { min_level: self.level_of_size(size)?, exact: true }, size),
            PageSizePolicy::UpTo(size) => (Policy { min_level: self.level_of_size(size)?, exact: false }, PAGE_SIZE),
        };
        let (t, end) = self.check_range(virt, len, align)?;
        self.check_phys(phys, len, align)?;
        self.reserve_for_range(t, end, phys, pol);
        self.journaled(src, |pt, src| {
            let mut progress = t;
            let r = pt.map_rec(src, ROOT, 0, t, end, t, phys, flags, pol, &mut progress);
            if r.is_err() && progress > t {
                pt.clear_rec(src, ROOT, 0, t, progress, false);
            }
            r
        })
    }

    /// Reserve arena room for the tables mapping `[t, end)` will need: the
    /// bulk of the range uses the largest allowed size whose alignment the
    /// virtual and physical addresses share, one table per 512 of those.
    fn reserve_for_range(&mut self, t: u64, end: u64, phys: PhysAddr, pol: Policy) {
        let last = self.nlevels - 1;
        let mut bulk = last;
        for l in (pol.min_level..=last).rev() {
            let lv = self.lv[l];
            let allowed = lv.leaf && (!pol.exact || l == pol.min_level);
            if allowed && (t ^ phys) & (lv.size - 1) == 0 && end - t >= lv.size {
                bulk = l;
            }
        }
        if bulk == 0 {
            return;
        }
        let span = self.lv[bulk - 1].size;
        let estimate = (end - t) / span + 2 * self.nlevels as u64;
        self.t.reserve(estimate.min(1 << 16) as usize);
    }

    /// Map `[t, end)` (table space) below `slot` at `level`; `t0` maps to
    /// `p0`. `progress` is the end of what has been mapped so far.
    #[allow(clippy::too_many_arguments)]
    fn map_rec(
        &mut self,
        src: &mut dyn PageSource,
        slot: u32,
        level: usize,
        t: u64,
        end: u64,
        t0: u64,
        p0: PhysAddr,
        flags: PteFlags,
        pol: Policy,
        progress: &mut u64,
    ) -> Result<()> {
        let lv = self.lv[level];
        let last = level + 1 == self.nlevels;
        let leaf_ok = lv.leaf && level >= pol.min_level && (!pol.exact || level == pol.min_level);
        if last && leaf_ok {
            // Fast path: a run of ptes.
            let mut cur = t;
            let mut idx = self.idx(level, t);
            let s = slot as usize;
            while cur < end {
                if self.t.entries[s][idx] != 0 {
                    return Err(MmError::AlreadyMapped { addr: self.to_va(cur) });
                }
                let raw = self.enc.leaf((p0 + (cur - t0)) >> 12, flags, false);
                self.t.entries[s][idx] = raw;
                self.t.meta[s].used += 1;
                self.leaves[level] += 1;
                cur += PAGE_SIZE;
                idx += 1;
                *progress = cur;
            }
            return Ok(());
        }
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let base = cur & !(lv.size - 1);
            let entry_end = base + lv.size;
            let chunk_end = entry_end.min(end);
            let pa = p0 + (cur - t0);
            if leaf_ok && cur == base && chunk_end == entry_end && pa & (lv.size - 1) == 0 {
                if self.t.entries[slot as usize][idx] != 0 {
                    let at = match self.child(slot, idx) {
                        Some(c) => self.first_mapped(c, level + 1, cur, entry_end).unwrap_or(cur),
                        None => cur,
                    };
                    return Err(MmError::AlreadyMapped { addr: self.to_va(at) });
                }
                let raw = self.leaf_raw(level, pa, flags);
                self.put_leaf(slot, idx, level, raw);
                *progress = entry_end;
            } else if last {
                return Err(MmError::invalid("policy", "no page size fits"));
            } else {
                let (child, created) = match self.child(slot, idx) {
                    Some(c) => (c, false),
                    None if self.t.entries[slot as usize][idx] != 0 => {
                        return Err(MmError::AlreadyMapped { addr: self.to_va(cur) });
                    }
                    None => {
                        let c = self.alloc_table(src, level + 1)?;
                        self.link(slot, idx, c);
                        (c, true)
                    }
                };
                let r = self.map_rec(src, child, level + 1, cur, chunk_end, t0, p0, flags, pol, progress);
                // a table made here that stayed empty goes at once; one
                // that was there before stays, empty or not
                if created && self.t.meta[child as usize].used == 0 {
                    self.unlink_free(src, slot, idx);
                }
                r?;
            }
            cur = chunk_end;
        }
        Ok(())
    }

    /// Map each `(virt, phys, size)` of `items` as [`PageTable::map`] would,
    /// all with `flags`. All or nothing: on the first error the pages
    /// mapped by this call are unmapped again and the error is returned.
    pub fn map_batch(
        &mut self,
        src: &mut dyn PageSource,
        items: &[(u64, PhysAddr, u64)],
        flags: PteFlags,
    ) -> Result<()> {
        self.journaled(src, |pt, src| {
            for (i, &(virt, phys, size)) in items.iter().enumerate() {
                if let Err(e) = pt.map(src, virt, phys, size, flags) {
                    for &(v, _, sz) in items[..i].iter().rev() {
                        let t = v & pt.space_mask;
                        pt.clear_rec(src, ROOT, 0, t, t + sz, false);
                    }
                    return Err(e);
                }
            }
            Ok(())
        })
    }
}
