//! Arbitrary arguments to every public operation: never a panic, and an
//! operation that fails changes nothing.

use proptest::prelude::*;

use super::common::*;

/// Values near the interesting edges of 64-bit addresses.
fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0..8u64, 0..1024u64).prop_map(|(g, k)| PAGE_OFFSET_4LEVEL + g * G1 + k * M2),
        (0..64u64).prop_map(|k| u64::MAX - (k + 1) * K4 + 1),
        (0..64u64).prop_map(|k| (1u64 << 47) - k * K4),
        (0..64u64).prop_map(|k| k * M2),
        Just(0xffff_ffc0_0000_0000u64),
        Just(0xffff_0000_0000_0000u64),
    ]
}

fn len() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(0u64),
        prop::sample::select(vec![K4, 2 * K4, M2, M2 + K4, G1, 2 * G1, 1 << 47, u64::MAX]),
    ]
}

#[derive(Debug, Clone)]
enum Call {
    Map(u64, u64, u64, u32),
    MapRange(u64, u64, u64, u32, u8),
    Unmap(u64, u64),
    UnmapRange(u64, u64),
    Protect(u64, u64, u32),
    ProtectRange(u64, u64, u32),
    Batch(Vec<(u64, u64, u64)>, u32),
    Translate(u64),
    Counts(u64, u64),
    Kpmi(u64, u64, u32, u64),
}

fn call() -> impl Strategy<Value = Call> {
    let small_len = prop::sample::select(vec![K4, 3 * K4, M2, G1 + M2]);
    prop_oneof![
        (addr(), addr(), len(), any::<u32>()).prop_map(|(a, b, c, d)| Call::Map(a, b, c, d)),
        (addr(), addr(), small_len.clone(), any::<u32>(), any::<u8>())
            .prop_map(|(a, b, c, d, e)| Call::MapRange(a, b, c, d, e)),
        (addr(), len()).prop_map(|(a, b)| Call::Unmap(a, b)),
        (addr(), len()).prop_map(|(a, b)| Call::UnmapRange(a, b)),
        (addr(), len(), any::<u32>()).prop_map(|(a, b, c)| Call::Protect(a, b, c)),
        (addr(), len(), any::<u32>()).prop_map(|(a, b, c)| Call::ProtectRange(a, b, c)),
        (prop::collection::vec((addr(), addr(), prop::sample::select(vec![K4, M2, G1, 3])), 0..4), any::<u32>())
            .prop_map(|(v, f)| Call::Batch(v, f)),
        addr().prop_map(Call::Translate),
        (addr(), len()).prop_map(|(a, b)| Call::Counts(a, b)),
        (addr(), small_len, any::<u32>(), addr()).prop_map(|(a, b, c, d)| Call::Kpmi(a, b, c, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_calls_never_panic(fmt_idx in 0..5usize, calls in prop::collection::vec(call(), 1..30)) {
        let mut src = source();
        let mut pt = PageTable::new(all_formats()[fmt_idx].clone(), &mut src).unwrap();
        let probes = [PAGE_OFFSET_4LEVEL, PAGE_OFFSET_4LEVEL + G1 + M2, 0, 0xffff_ffc0_0000_0000];
        let probes: Vec<u64> = probes.into_iter().filter(|&p| pt.is_canonical(p)).collect();
        for c in calls {
            let before = (snapshot(&pt, &probes), src.in_use);
            let flags = |f: u32| PteFlags::from_bits_truncate(f);
            let policy = |p: u8| match p % 4 {
                0 => PageSizePolicy::Largest,
                1 => PageSizePolicy::Force(K4 << (9 * (p as u64 / 4 % 3))),
                2 => PageSizePolicy::UpTo(M2),
                _ => PageSizePolicy::Force(p as u64),
            };
            let r: std::result::Result<(), MmError> = match c {
                Call::Map(v, p, s, f) => pt.map(&mut src, v, p, s, flags(f)),
                Call::MapRange(v, p, l, f, po) => pt.map_range(&mut src, v, p, l, flags(f), policy(po)),
                Call::Unmap(v, s) => pt.unmap(&mut src, v, s),
                Call::UnmapRange(v, l) => pt.unmap_range(&mut src, v, l),
                Call::Protect(v, s, f) => pt.protect(&mut src, v, s, flags(f)),
                Call::ProtectRange(v, l, f) => pt.protect_range(&mut src, v, l, flags(f)),
                Call::Batch(items, f) => pt.map_batch(&mut src, &items, flags(f)),
                Call::Translate(v) => {
                    let _ = pt.translate(v);
                    let _ = pt.translate_phys(v);
                    let _ = pt.walk(v);
                    Ok(())
                }
                Call::Counts(v, l) => pt.leaf_counts(v, l).map(|_| ()),
                Call::Kpmi(s, l, m, po) => {
                    let r = MapRange { start: s & ((1 << 44) - 1), end: (s & ((1 << 44) - 1)).wrapping_add(l), page_size_mask: m & 0xf };
                    let _ = r.to_string();
                    let _ = split_mem_range(r.start, r.end, m, &[(0, s)]);
                    pt.kernel_physical_mapping_init(&mut src, &r, po, flags(m >> 4)).map(|_| ())
                }
            };
            if r.is_err() {
                prop_assert_eq!((snapshot(&pt, &probes), src.in_use), before);
            }
            pt.check_invariants().unwrap();
            prop_assert_eq!(src.in_use, pt.page_table_pages());
        }
    }
}
