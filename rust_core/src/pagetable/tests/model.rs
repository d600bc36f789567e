//! Property test: random map / map_range / unmap / protect sequences on
//! every format, checked against an extent model (virtual range -> physical
//! start, flags). Failed operations must change nothing; the tables must
//! stay sound and every table page must go back to the source at the end.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::common::*;

/// Non-overlapping extents: vstart -> (vend, pstart, flags).
#[derive(Default, Debug)]
struct Model {
    ext: BTreeMap<u64, (u64, u64, PteFlags)>,
}

impl Model {
    fn overlapping(&self, a: u64, b: u64) -> Vec<(u64, u64, u64, PteFlags)> {
        let mut v = Vec::new();
        if let Some((&s, &(e, p, f))) = self.ext.range(..=a).next_back() {
            if e > a {
                v.push((s, e, p, f));
            }
        }
        for (&s, &(e, p, f)) in self.ext.range(a..b) {
            if s != v.first().map_or(u64::MAX, |x| x.0) {
                v.push((s, e, p, f));
            }
        }
        v
    }
    fn lookup(&self, va: u64) -> Option<(u64, PteFlags)> {
        let (&s, &(e, p, f)) = self.ext.range(..=va).next_back()?;
        (va < e).then_some((p + (va - s), f))
    }
    fn first_mapped(&self, a: u64, b: u64) -> Option<u64> {
        self.overlapping(a, b).first().map(|x| x.0.max(a))
    }
    fn first_hole(&self, a: u64, b: u64) -> Option<u64> {
        let mut cur = a;
        for (s, e, _, _) in self.overlapping(a, b) {
            if s > cur {
                return Some(cur);
            }
            cur = e;
        }
        (cur < b).then_some(cur)
    }
    fn remove(&mut self, a: u64, b: u64) -> Vec<(u64, u64, u64, PteFlags)> {
        let ov = self.overlapping(a, b);
        for &(s, e, p, f) in &ov {
            self.ext.remove(&s);
            if s < a {
                self.ext.insert(s, (a, p, f));
            }
            if e > b {
                self.ext.insert(b, (e, p + (b - s), f));
            }
        }
        ov
    }
    fn bytes(&self) -> u64 {
        self.ext.iter().map(|(s, (e, _, _))| e - s).sum()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Map { va: u64, pa: u64, size: u64, flags: PteFlags },
    MapRange { va: u64, delta: u64, len: u64, flags: PteFlags },
    Unmap { va: u64, len: u64 },
    Protect { va: u64, len: u64, flags: PteFlags },
}

fn flags() -> impl Strategy<Value = PteFlags> {
    prop::sample::select(vec![
        PteFlags::PAGE_KERNEL,
        PteFlags::PAGE_KERNEL_RO,
        PteFlags::PAGE_KERNEL_EXEC,
        PteFlags::USER | PteFlags::ACCESSED,
    ])
}

/// An offset in the 4 GiB window, biased to interesting boundaries.
fn offset() -> impl Strategy<Value = u64> {
    (0..4u64, prop::sample::select(vec![0u64, 1, 2, 255, 510, 511]), prop::sample::select(vec![0u64, 1, 7, 511]))
        .prop_map(|(g, m, k)| g * G1 + m * M2 + k * K4)
}

fn len() -> impl Strategy<Value = u64> {
    prop::sample::select(vec![K4, 3 * K4, M2, M2 + K4, 2 * M2, G1, G1 + M2])
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (offset(), 0..64u64, prop::sample::select(vec![K4, M2, G1]), flags()).prop_map(|(o, p, size, flags)| Op::Map {
            va: o & !(size - 1),
            pa: p * size,
            size,
            flags
        }),
        (offset(), prop::sample::select(vec![0u64, K4, M2, G1]), len(), flags())
            .prop_map(|(va, delta, len, flags)| Op::MapRange { va, delta, len, flags }),
        (offset(), len()).prop_map(|(va, len)| Op::Unmap { va, len }),
        (offset(), len(), flags()).prop_map(|(va, len, flags)| Op::Protect { va, len, flags }),
    ]
}

fn base_of(f: &PageTableFormat) -> u64 {
    // A 1 GiB-aligned, canonical upper-half address with 8 GiB after it.
    match f.va_bits {
        39 => 0xffff_ffc0_0000_0000,
        48 if f.va_form == VaForm::OnesExtended => 0xffff_0000_0000_0000,
        48 => 0xffff_8000_0000_0000,
        _ => 0xff11_0000_0000_0000,
    }
}

fn check(pt: &PageTable, m: &Model, base: u64, probes: &[u64]) {
    pt.check_invariants().unwrap();
    assert_eq!(pt.leaf_counts_total().bytes(), m.bytes());
    for (&s, &(e, p, f)) in &m.ext {
        for va in [s, e - 1, (s + (e - s) / 2) & !7] {
            let t = pt.translate(base + va).unwrap();
            assert_eq!((t.phys, t.flags), (p + (va - s), f), "at {va:#x}");
        }
    }
    let mut virts = Vec::new();
    for &o in probes {
        for va in [o, o + K4, o.saturating_sub(K4)] {
            assert_eq!(pt.translate_phys(base + va), m.lookup(va).map(|x| x.0), "probe {va:#x}");
            virts.push(base + va);
        }
    }
    // The batch (grouped, prefetching) gives what the model gives, also for
    // a non-canonical address and across group boundaries.
    virts.push(1 << 62);
    let mut out = vec![0; virts.len()];
    let mapped = pt.translate_batch(&virts, &mut out).unwrap();
    let want: Vec<u64> = virts
        .iter()
        .map(|&v| v.checked_sub(base).and_then(|va| m.lookup(va)).map_or(TRANSLATE_FAULT, |x| x.0))
        .collect();
    assert_eq!(out, want);
    assert_eq!(mapped, want.iter().filter(|&&p| p != TRANSLATE_FAULT).count());
}

fn run(fmt_idx: usize, ops: Vec<Op>) {
    let f = all_formats()[fmt_idx].clone();
    let base = base_of(&f);
    let mut src = source();
    let mut pt = PageTable::new(f, &mut src).unwrap();
    let mut m = Model::default();
    let mut probes: Vec<u64> = Vec::new();
    for op in ops {
        let (before, in_use) = (snapshot(&pt, &[base, base + G1 + M2]), src.in_use);
        let (res, expect_err) = match op {
            Op::Map { va, pa, size, flags } => {
                probes.push(va);
                let conflict = m.first_mapped(va, va + size);
                let r = pt.map(&mut src, base + va, pa, size, flags);
                if conflict.is_none() {
                    m.ext.insert(va, (va + size, pa, flags));
                }
                (r, conflict.map(|a| MmError::AlreadyMapped { addr: base + a }))
            }
            Op::MapRange { va, delta, len, flags } => {
                probes.push(va);
                let conflict = m.first_mapped(va, va + len);
                let r = pt.map_range(&mut src, base + va, va + delta, len, flags, PageSizePolicy::Largest);
                if conflict.is_none() {
                    m.ext.insert(va, (va + len, va + delta, flags));
                }
                (r, conflict.map(|a| MmError::AlreadyMapped { addr: base + a }))
            }
            Op::Unmap { va, len } => {
                probes.push(va);
                let hole = m.first_hole(va, va + len);
                let r = pt.unmap_range(&mut src, base + va, len);
                if hole.is_none() {
                    m.remove(va, va + len);
                }
                (r, hole.map(|a| MmError::NotMapped { addr: base + a }))
            }
            Op::Protect { va, len, flags } => {
                probes.push(va);
                let hole = m.first_hole(va, va + len);
                let r = pt.protect_range(&mut src, base + va, len, flags);
                if hole.is_none() {
                    for (s, e, p, _) in m.remove(va, va + len) {
                        let (a, b) = (s.max(va), e.min(va + len));
                        m.ext.insert(a, (b, p + (a - s), flags));
                    }
                }
                (r, hole.map(|a| MmError::NotMapped { addr: base + a }))
            }
        };
        match expect_err {
            Some(e) => {
                assert_eq!(res, Err(e));
                assert_eq!(snapshot(&pt, &[base, base + G1 + M2]), before);
                assert_eq!(src.in_use, in_use);
            }
            None => res.unwrap(),
        }
        assert_eq!(src.in_use, pt.page_table_pages());
        check(&pt, &m, base, &probes);
    }
    // Unmap everything: back to the root alone.
    let exts: Vec<(u64, u64)> = m.ext.iter().map(|(&s, &(e, _, _))| (s, e)).collect();
    for (s, e) in exts {
        pt.unmap_range(&mut src, base + s, e - s).unwrap();
    }
    assert_eq!((pt.page_table_pages(), src.in_use), (1, 1));
    pt.check_invariants().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_match_the_model(fmt_idx in 0..5usize, ops in prop::collection::vec(op(), 1..40)) {
        run(fmt_idx, ops);
    }
}
