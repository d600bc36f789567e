//! Self-check of the engine's invariants (for tests and debugging).

use super::{EntryKind, PageTable, ROOT};

impl PageTable {
    /// Check every invariant of the tables: entry kinds agree with the
    /// child links, table entries hold their child's pfn, `used` counts,
    /// per-level leaf counts, levels of tables, and that no table but the
    /// root is empty. Returns a description of the first violation.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        let mut leaves = [0u64; super::format::MAX_LEVELS];
        let mut seen = 0u64;
        self.check_rec(ROOT, 0, &mut leaves, &mut seen)?;
        if seen != self.t.live {
            return Err(format!("{seen} tables reachable but {} live", self.t.live));
        }
        if leaves != self.leaves {
            return Err(format!("leaf counts {:?} but recorded {:?}", leaves, self.leaves));
        }
        Ok(())
    }

    fn check_rec(
        &self,
        slot: u32,
        level: usize,
        leaves: &mut [u64],
        seen: &mut u64,
    ) -> std::result::Result<(), String> {
        let s = slot as usize;
        let m = self.t.meta[s];
        *seen += 1;
        if !m.live || m.level as usize != level {
            return Err(format!("slot {slot}: live {} level {} (expected {level})", m.live, m.level));
        }
        let last = level + 1 == self.nlevels;
        let n = (self.lv[level].mask + 1) as usize;
        let mut used = 0;
        for idx in 0..super::PTRS_PER_TABLE {
            let raw = self.t.entries[s][idx];
            let c = self.t.children[s][idx];
            if idx >= n && (raw != 0 || c != 0) {
                return Err(format!("slot {slot}: entry {idx} beyond the table"));
            }
            if raw == 0 {
                if c != 0 {
                    return Err(format!("slot {slot}[{idx}]: child without entry"));
                }
                continue;
            }
            used += 1;
            match self.enc.kind(raw, last) {
                EntryKind::None => return Err(format!("slot {slot}[{idx}]: non-zero entry {raw:#x} not present")),
                EntryKind::Table => {
                    if c == 0 {
                        return Err(format!("slot {slot}[{idx}]: table entry {raw:#x} without child"));
                    }
                    let child = c - 1;
                    if self.enc.pfn(raw) != self.t.meta[child as usize].pfn {
                        return Err(format!("slot {slot}[{idx}]: entry {raw:#x} does not point at its child"));
                    }
                    if self.t.meta[child as usize].used == 0 {
                        return Err(format!("slot {slot}[{idx}]: empty child table"));
                    }
                    self.check_rec(child, level + 1, leaves, seen)?;
                }
                EntryKind::Leaf => {
                    if c != 0 {
                        return Err(format!("slot {slot}[{idx}]: leaf with a child"));
                    }
                    if !self.lv[level].leaf {
                        return Err(format!("slot {slot}[{idx}]: leaf at a level without leaves"));
                    }
                    leaves[level] += 1;
                }
            }
        }
        if used != m.used {
            return Err(format!("slot {slot}: {used} entries used but recorded {}", m.used));
        }
        Ok(())
    }
}
