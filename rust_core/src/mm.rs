//! `Mm`: the whole simulated memory of one machine.
//!
//! It owns memblock and, once `free_area_init` has run, the nodes and zones
//! with their buddy allocator. Bindings and benches hold one `Mm` per
//! simulated machine; cloning it forks the machine.

use crate::memblock::{KernelVersion, Memblock};

/// The simulated memory of one machine.
#[derive(Debug, Clone, Default)]
pub struct Mm {
    /// The boot-time allocator.
    pub memblock: Memblock,
}

impl Mm {
    /// A machine with no memory yet, for the given kernel version.
    pub fn new(version: KernelVersion) -> Self {
        Mm { memblock: Memblock::with_version(version) }
    }
}
