//! Counts: page-table pages (meminfo `PageTables`) and leaves per page size
//! (`DirectMap4k` / `DirectMap2M` / `DirectMap1G`).

use super::{PageTable, PteFlags, ROOT};
use crate::error::Result;
use crate::units::PAGE_SIZE;

/// Leaves per page size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeafCounts {
    /// `(page size, number of leaves)`, smallest size first, one per page
    /// size of the format.
    pub by_size: Vec<(u64, u64)>,
}

/// The kernel's short name of a page size: `4k`, `2M`, `1G`, `512G`.
pub fn size_name(size: u64) -> String {
    if size >= 1 << 30 {
        format!("{}G", size >> 30)
    } else if size >= 1 << 20 {
        format!("{}M", size >> 20)
    } else {
        format!("{}k", size >> 10)
    }
}

impl LeafCounts {
    /// Number of leaves of `size` bytes.
    pub fn count(&self, size: u64) -> u64 {
        self.by_size.iter().find(|(s, _)| *s == size).map_or(0, |(_, n)| *n)
    }

    /// Memory mapped by leaves of `size` bytes, in kB.
    pub fn kb(&self, size: u64) -> u64 {
        self.count(size).saturating_mul(size >> 10)
    }

    /// Total bytes mapped.
    pub fn bytes(&self) -> u64 {
        self.by_size.iter().fold(0u64, |a, (s, n)| a.saturating_add(s.saturating_mul(*n)))
    }

    /// The `/proc/meminfo` lines, as x86's `arch_report_meminfo()` prints
    /// them (`DirectMap4k:    %8lu kB`), one per page size.
    pub fn meminfo_lines(&self) -> Vec<String> {
        self.by_size
            .iter()
            .map(|(s, _)| format!("{:<16}{:>8} kB", format!("DirectMap{}:", size_name(*s)), self.kb(*s)))
            .collect()
    }
}

impl PageTable {
    /// Page-table pages in use, the root included (meminfo `PageTables` is
    /// this times 4 kB).
    pub fn page_table_pages(&self) -> u64 {
        self.t.live
    }

    /// meminfo `PageTables`, in kB.
    pub fn page_tables_kb(&self) -> u64 {
        self.t.live * (PAGE_SIZE >> 10)
    }

    /// Leaves per page size over the whole table.
    pub fn leaf_counts_total(&self) -> LeafCounts {
        self.make_counts(|l| self.leaves[l])
    }

    fn make_counts(&self, n: impl Fn(usize) -> u64) -> LeafCounts {
        let mut by_size: Vec<(u64, u64)> =
            (0..self.nlevels).filter(|&l| self.lv[l].leaf).map(|l| (self.lv[l].size, n(l))).collect();
        by_size.sort_unstable();
        LeafCounts { by_size }
    }

    /// Leaves whose first address lies in `[virt, virt + len)` (4 KiB
    /// aligned, canonical), per page size: for the direct map's range this
    /// is what DirectMap4k/2M/1G report.
    pub fn leaf_counts(&self, virt: u64, len: u64) -> Result<LeafCounts> {
        let (t, end) = self.check_range(virt, len, PAGE_SIZE)?;
        let mut per = [0u64; super::format::MAX_LEVELS];
        self.count_rec(ROOT, 0, t, end, &mut per);
        Ok(self.make_counts(|l| per[l]))
    }

    /// Pages in `[virt, virt + len)` mapped both writable and executable:
    /// what x86's `ptdump_walk_pgd_level_checkwx` counts ("W+X pages").
    pub fn wx_pages(&self, virt: u64, len: u64) -> Result<u64> {
        let (t, end) = self.check_range(virt, len, PAGE_SIZE)?;
        let mut n = 0;
        self.visit_leaves(ROOT, 0, t, end, &mut |_, raw, from, to| {
            let f = self.enc.flags(raw);
            if f.contains(PteFlags::WRITE) && !f.contains(PteFlags::NOEXEC) {
                n += (to - from) / PAGE_SIZE;
            }
        });
        Ok(n)
    }

    fn count_rec(&self, slot: u32, level: usize, t: u64, end: u64, per: &mut [u64]) {
        let lv = &self.lv;
        self.visit_leaves(slot, level, t, end, &mut |l, _, from, _| {
            // a leaf counts where it starts
            if from & (lv[l].size - 1) == 0 {
                per[l] += 1;
            }
        });
    }

    /// Every leaf met walking `[t, end)` (table space) from the table in
    /// `slot` at `level`: its level, entry and the part of the range it maps.
    fn visit_leaves(&self, slot: u32, level: usize, t: u64, end: u64,
                    f: &mut impl FnMut(usize, u64, u64, u64)) {
        let lv = self.lv[level];
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let base = cur & !(lv.size - 1);
            let chunk_end = (base + lv.size).min(end);
            match self.child(slot, idx) {
                Some(c) => self.visit_leaves(c, level + 1, cur, chunk_end, f),
                None => {
                    let raw = self.t.entries[slot as usize][idx];
                    if raw != 0 && self.enc.is_valid(raw) {
                        f(level, raw, cur, chunk_end);
                    }
                }
            }
            cur = chunk_end;
        }
    }
}
