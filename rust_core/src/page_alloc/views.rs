//! The kernel's text views of the allocator (mm/vmstat.c formats, the same
//! in 5.14 and 6.1): /proc/buddyinfo, /proc/pagetypeinfo and the allocator
//! part of /proc/zoneinfo.

use std::fmt::Write;

use super::buddy::PageAlloc;
use super::migratetype::MigrateType;
use super::zone::Zone;

impl PageAlloc {
    /// /proc/buddyinfo (populated zones only).
    pub fn buddyinfo(&self) -> String {
        let mut s = String::new();
        for z in self.zones.iter().filter(|z| z.present > 0) {
            let _ = write!(s, "Node {}, zone {:>8} ", z.nid, z.zone_type.name());
            for n in &z.area.nr_free[..=z.top() as usize] {
                let _ = write!(s, "{n:>6} ");
            }
            s.push('\n');
        }
        s
    }

    /// Pageblocks per migratetype of a zone, counted like
    /// `pagetypeinfo_showblockcount_print`: one probe pfn per pageblock
    /// stepping from `zone_start_pfn`, skipping pfns without a memmap.
    pub(crate) fn blockcount(&self, z: &Zone) -> [u64; 6] {
        let pb = 1u64 << z.pageblock_order;
        let (start, end) = (z.start_pfn, z.end_pfn);
        // probes in [a, b): start + k*pb
        let probes = |a: u64, b: u64| -> u64 {
            let a = a.max(start);
            let b = b.min(end);
            if a >= b {
                return 0;
            }
            let first = (a - start).div_ceil(pb);
            let last = (b - start).div_ceil(pb);
            last - first
        };
        let mut count = [0u64; 6];
        count[MigrateType::Movable as usize] = z.valid.iter().map(|&(a, b)| probes(a, b)).sum();
        let valid = |p: u64| z.valid.iter().any(|&(a, b)| p >= a && p < b);
        // the probe of the pageblock starting at ws, if it has one
        let probe = |ws: u64| {
            let p = if ws <= start { start } else { start + (ws - start).div_ceil(pb) * pb };
            (p >= ws && p < ws + pb && p < end && valid(p)).then_some(p)
        };
        let mut recount = |ws: u64, m: u8| {
            if m != MigrateType::Movable as u8 && probe(ws).is_some() {
                count[MigrateType::Movable as usize] -= 1;
                count[m as usize] += 1;
            }
        };
        z.pt.for_each_desc(|blk, d| {
            for (i, &m) in d.pb_mt.iter().enumerate() {
                recount(blk + (i as u64) * pb, m);
            }
        });
        z.pt.for_each_pb_uninit(|ws| recount(ws, MigrateType::Unmovable as u8));
        count
    }

    /// /proc/pagetypeinfo (free counts per type and order, then the
    /// "Number of blocks type" table).
    pub fn pagetypeinfo(&self) -> String {
        let types = MigrateType::types(self.cfg.cma);
        let mut s = String::new();
        let _ = writeln!(s, "Page block order: {}", self.cfg.pageblock_order);
        let _ = writeln!(s, "Pages per block:  {}", self.cfg.pageblock_nr_pages());
        s.push('\n');
        for nid in 0..self.nr_nodes() {
            let zs: Vec<&Zone> = self.zones.iter().filter(|z| z.nid == nid && z.present > 0).collect();
            let _ = write!(s, "{:<43} ", "Free pages count per migrate type at order");
            for o in 0..self.cfg.max_order {
                let _ = write!(s, "{o:>6} ");
            }
            s.push('\n');
            for z in &zs {
                for &m in &types {
                    let _ = write!(s, "Node {:>4}, zone {:>8}, type {:>12} ", nid, z.zone_type.name(), m.name());
                    for o in 0..self.cfg.max_order as usize {
                        let c = z.area.count[o][m as usize];
                        if c >= 100000 {
                            let _ = write!(s, ">{:>6} ", 100000);
                        } else {
                            let _ = write!(s, "{c:>6} ");
                        }
                    }
                    s.push('\n');
                }
            }
            let _ = write!(s, "\n{:<23}", "Number of blocks type ");
            for &m in &types {
                let _ = write!(s, "{:>12} ", m.name());
            }
            s.push('\n');
            for z in &zs {
                let c = self.blockcount(z);
                let _ = write!(s, "Node {}, zone {:>8} ", nid, z.zone_type.name());
                for &m in &types {
                    let _ = write!(s, "{:>12} ", c[m as usize]);
                }
                s.push('\n');
            }
        }
        s
    }

    /// The allocator lines of /proc/zoneinfo for every zone: the header,
    /// "pages free" … "protection", and for populated zones the
    /// `nr_free_pages` stat, the pagesets and start_pfn. Other vmstat items
    /// (per-node stats, LRU counters, NUMA counters) are not the
    /// allocator's and are left out.
    pub fn zoneinfo(&self) -> String {
        let mut s = String::new();
        let online = self.nr_online_cpus() as u64;
        for z in &self.zones {
            let _ = write!(s, "Node {}, zone {:>8}", z.nid, z.zone_type.name());
            let _ = write!(
                s,
                "\n  pages free     {}\n        boost    0\n        min      {}\n        low      {}\n        high     {}\n        spanned  {}\n        present  {}\n        managed  {}\n        cma      0",
                z.nr_free_pages, z.wmark[0], z.wmark[1], z.wmark[2], z.spanned, z.present, z.managed
            );
            let prot: Vec<String> = z.lowmem_reserve.iter().map(|p| p.to_string()).collect();
            let _ = write!(s, "\n        protection: ({})", prot.join(", "));
            if z.present == 0 {
                s.push('\n');
                continue;
            }
            let _ = write!(s, "\n      {:<12} {}", "nr_free_pages", z.nr_free_pages);
            let _ = write!(s, "\n  pagesets");
            let threshold = z.stat_threshold;
            for (cpu, p) in z.pcp.iter().enumerate().take(online as usize) {
                let _ = write!(
                    s,
                    "\n    cpu: {cpu}\n              count: {}\n              high:  {}\n              batch: {}",
                    p.count, p.high, p.batch
                );
                let _ = write!(s, "\n  vm stats threshold: {threshold}");
            }
            let _ = write!(s, "\n  node_unreclaimable:  0\n  start_pfn:           {}", z.start_pfn);
            s.push('\n');
        }
        s
    }
}
