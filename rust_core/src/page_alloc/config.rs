//! The plain-data configuration of the allocator (one per kernel profile).

use crate::error::{MmError, Result};

/// Which kernel's rules to follow where 5.14 and 6.1 differ.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum KernelVersion {
    #[default]
    V5_14,
    V6_1,
}

/// Knobs of the page allocator. `Default` is x86_64 as Debian configures it
/// (MAX_ORDER 11, pageblock order 9, SPARSEMEM with 128 MiB sections,
/// deferred struct page init on), one CPU, Linux 5.14.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageAllocConfig {
    pub kernel: KernelVersion,
    /// MAX_ORDER: orders `0..max_order` exist (11 → 0..=10).
    pub max_order: u32,
    /// pageblock_order (9 on x86_64, MAX_ORDER-1 on UML).
    pub pageblock_order: u32,
    /// Number of possible/online CPUs (pcp lists exist per CPU).
    pub nr_cpus: u32,
    /// Node of each CPU (`cpu_to_node`); empty means every CPU on node 0.
    pub cpu_to_node: Vec<u32>,
    /// `min_free_kbytes=`; `None` computes it the kernel's way
    /// (`int_sqrt(lowmem_kbytes * 16)` clamped to [128, 262144]).
    pub min_free_kbytes: Option<u64>,
    /// vm.watermark_scale_factor (default 10, i.e. 0.1%).
    pub watermark_scale_factor: u64,
    /// vm.lowmem_reserve_ratio indexed by zone type
    /// (DMA, DMA32, Normal, Movable, Device).
    pub lowmem_reserve_ratio: [u64; 5],
    /// vm.percpu_pagelist_high_fraction (0 = based on the low watermark).
    pub percpu_pagelist_high_fraction: u64,
    /// CONFIG_DEFERRED_STRUCT_PAGE_INIT.
    pub deferred_struct_page_init: bool,
    /// CONFIG_SPARSEMEM (false = FLATMEM).
    pub sparsemem: bool,
    /// SECTION_SIZE_BITS (27 → 32768 pfns per section).
    pub section_size_bits: u32,
    /// 6.1 `early_page_ext`: disables deferral.
    pub early_page_ext: bool,
    /// CONFIG_CMA: the CMA migrate type exists (printed, counted in
    /// MIGRATE_TYPES). No CMA areas are modelled.
    pub cma: bool,
}

impl Default for PageAllocConfig {
    fn default() -> Self {
        PageAllocConfig {
            kernel: KernelVersion::V5_14,
            max_order: 11,
            pageblock_order: 9,
            nr_cpus: 1,
            cpu_to_node: Vec::new(),
            min_free_kbytes: None,
            watermark_scale_factor: 10,
            lowmem_reserve_ratio: [256, 256, 32, 0, 0],
            percpu_pagelist_high_fraction: 0,
            deferred_struct_page_init: true,
            sparsemem: true,
            section_size_bits: 27,
            early_page_ext: false,
            cma: false,
        }
    }
}

impl PageAllocConfig {
    /// User-mode Linux: FLATMEM, pageblock order = MAX_ORDER-1, no deferral.
    pub fn uml() -> Self {
        PageAllocConfig {
            pageblock_order: 10,
            deferred_struct_page_init: false,
            sparsemem: false,
            ..Default::default()
        }
    }

    /// Linux 6.1 defaults on x86_64.
    pub fn linux_6_1() -> Self {
        PageAllocConfig { kernel: KernelVersion::V6_1, ..Default::default() }
    }

    /// PAGES_PER_SECTION.
    pub fn pages_per_section(&self) -> u64 {
        1u64 << (self.section_size_bits - crate::units::PAGE_SHIFT)
    }

    /// pageblock_nr_pages.
    pub fn pageblock_nr_pages(&self) -> u64 {
        1u64 << self.pageblock_order
    }

    /// MIGRATE_TYPES of the profile (5 without CMA, 6 with).
    pub fn migrate_types(&self) -> u64 {
        if self.cma {
            6
        } else {
            5
        }
    }

    /// Node of `cpu`.
    pub fn cpu_node(&self, cpu: u32) -> u32 {
        self.cpu_to_node.get(cpu as usize).copied().unwrap_or(0)
    }

    /// Check the values; every constructor of derived state calls this.
    pub fn validate(&self) -> Result<()> {
        if !(2..=16).contains(&self.max_order) {
            return Err(MmError::invalid("max_order", format!("{} not in 2..=16", self.max_order)));
        }
        if self.pageblock_order >= self.max_order {
            return Err(MmError::invalid(
                "pageblock_order",
                format!("{} must be below max_order {}", self.pageblock_order, self.max_order),
            ));
        }
        if self.nr_cpus == 0 || self.nr_cpus > 4096 {
            return Err(MmError::invalid("nr_cpus", format!("{} not in 1..=4096", self.nr_cpus)));
        }
        if !self.cpu_to_node.is_empty() && self.cpu_to_node.len() != self.nr_cpus as usize {
            return Err(MmError::invalid("cpu_to_node", "needs one entry per cpu"));
        }
        if self.sparsemem
            && !(self.pageblock_order + crate::units::PAGE_SHIFT..=46).contains(&self.section_size_bits)
        {
            return Err(MmError::invalid(
                "section_size_bits",
                "a section must hold at least one pageblock and be at most 2^46 bytes",
            ));
        }
        if self.sparsemem && self.section_size_bits < self.max_order - 1 + crate::units::PAGE_SHIFT {
            return Err(MmError::invalid("section_size_bits", "a section must hold a max-order block"));
        }
        if self.watermark_scale_factor > 3000 {
            return Err(MmError::invalid("watermark_scale_factor", "above 3000"));
        }
        if let Some(k) = self.min_free_kbytes {
            if k > (1 << 40) {
                return Err(MmError::invalid("min_free_kbytes", "too large"));
            }
        }
        Ok(())
    }
}
