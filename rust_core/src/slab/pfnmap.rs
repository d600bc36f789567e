//! Sparse map from pfn to what the slab allocator put there: a slab, or a
//! large kmalloc block. Two levels: chunks of 4096 pfns (16 MiB), found in a
//! vector for the first 64 GiB... 2^24 chunks, a hash map above.

use std::collections::HashMap;

const CHUNK_SHIFT: u32 = 12;
const CHUNK: usize = 1 << CHUNK_SHIFT;
/// Chunks addressed directly (2^20 chunks of 16 MiB = 16 TiB of pfns).
const DENSE_CHUNKS: u64 = 1 << 20;

/// What a pfn holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PfnEntry {
    /// Nothing of ours.
    None,
    /// A page of slab `id`.
    Slab(u32),
    /// The first page of a large kmalloc block of `order`.
    LargeHead(u32),
    /// A later page of a large kmalloc block.
    LargeTail,
}

const TAG_NONE: u32 = 0;
const TAG_LARGE_HEAD: u32 = 0x8000_0000;
const TAG_LARGE_TAIL: u32 = 0xC000_0000;

#[inline]
fn encode(e: PfnEntry) -> u32 {
    match e {
        PfnEntry::None => TAG_NONE,
        PfnEntry::Slab(id) => id + 1,
        PfnEntry::LargeHead(order) => TAG_LARGE_HEAD | order,
        PfnEntry::LargeTail => TAG_LARGE_TAIL,
    }
}

#[inline]
fn decode(v: u32) -> PfnEntry {
    if v == TAG_NONE {
        PfnEntry::None
    } else if v & TAG_LARGE_TAIL == TAG_LARGE_TAIL {
        PfnEntry::LargeTail
    } else if v & TAG_LARGE_HEAD != 0 {
        PfnEntry::LargeHead(v & 0xff)
    } else {
        PfnEntry::Slab(v - 1)
    }
}

type Chunk = Box<[u32; CHUNK]>;

/// pfn → [`PfnEntry`].
#[derive(Debug, Clone, Default)]
pub struct PfnMap {
    dense: Vec<Option<Chunk>>,
    sparse: HashMap<u64, Chunk>,
}

impl PfnMap {
    /// Look a pfn up.
    #[inline]
    pub fn get(&self, pfn: u64) -> PfnEntry {
        let c = pfn >> CHUNK_SHIFT;
        let i = (pfn as usize) & (CHUNK - 1);
        let chunk = if c < DENSE_CHUNKS {
            match self.dense.get(c as usize) {
                Some(Some(ch)) => ch,
                _ => return PfnEntry::None,
            }
        } else {
            match self.sparse.get(&c) {
                Some(ch) => ch,
                None => return PfnEntry::None,
            }
        };
        decode(chunk[i])
    }

    fn chunk_mut(&mut self, c: u64) -> &mut Chunk {
        if c < DENSE_CHUNKS {
            let c = c as usize;
            if self.dense.len() <= c {
                self.dense.resize_with(c + 1, || None);
            }
            self.dense[c].get_or_insert_with(|| Box::new([0u32; CHUNK]))
        } else {
            self.sparse.entry(c).or_insert_with(|| Box::new([0u32; CHUNK]))
        }
    }

    /// Set `count` pfns from `pfn` on: the first to `first`, the others to `rest`.
    pub fn set_range(&mut self, pfn: u64, count: u64, first: PfnEntry, rest: PfnEntry) {
        let (f, r) = (encode(first), encode(rest));
        for k in 0..count {
            let p = pfn + k;
            let ch = self.chunk_mut(p >> CHUNK_SHIFT);
            ch[(p as usize) & (CHUNK - 1)] = if k == 0 { f } else { r };
        }
    }

    /// Clear `count` pfns from `pfn` on.
    pub fn clear_range(&mut self, pfn: u64, count: u64) {
        for k in 0..count {
            let p = pfn + k;
            let c = p >> CHUNK_SHIFT;
            let i = (p as usize) & (CHUNK - 1);
            if c < DENSE_CHUNKS {
                if let Some(Some(ch)) = self.dense.get_mut(c as usize) {
                    ch[i] = TAG_NONE;
                }
            } else if let Some(ch) = self.sparse.get_mut(&c) {
                ch[i] = TAG_NONE;
            }
        }
    }
}

#[cfg(test)]
impl PfnMap {
    /// Every mapped pfn with its raw entry, in pfn order (tests).
    pub fn entries(&self) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        for (c, ch) in self.dense.iter().enumerate() {
            if let Some(ch) = ch {
                for (i, &v) in ch.iter().enumerate() {
                    if v != TAG_NONE {
                        out.push(((c as u64) << CHUNK_SHIFT | i as u64, v));
                    }
                }
            }
        }
        let mut keys: Vec<&u64> = self.sparse.keys().collect();
        keys.sort();
        for c in keys {
            for (i, &v) in self.sparse[c].iter().enumerate() {
                if v != TAG_NONE {
                    out.push((c << CHUNK_SHIFT | i as u64, v));
                }
            }
        }
        out
    }
}
