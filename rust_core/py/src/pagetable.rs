//! Binding of the kernel page table of `Mm` (`mmsvc_core::pagetable`):
//! build the direct map, map and unmap ranges, translate and walk.

use mmsvc_core::pagetable::{
    BitPattern, EntryEncoding, EntryKind, FlagEncoding, LevelFormat, PageSizePolicy, PageTableFormat, PteFlags, VaForm,
    TRANSLATE_FAULT,
};
use mmsvc_core::mm::EarlyTables;
use mmsvc_core::MmError;
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{guarded, InvalidArgumentError};
use crate::mm::PyMm;

fn flags_from(names: &[String]) -> Result<PteFlags, MmError> {
    let mut f = PteFlags::empty();
    for n in names {
        let one = PteFlags::from_name(n)
            .ok_or_else(|| MmError::invalid("flags", format!("unknown page flag {n:?}")))?;
        f |= one;
    }
    Ok(f)
}

/// A page-table format given as a preset name or as plain data (a dict
/// with the fields of `PageTableFormat`; see `page_table_format()`).
#[derive(FromPyObject)]
pub enum FormatArg<'py> {
    Preset(String),
    Data(Bound<'py, PyDict>),
}

fn item<'py, T>(d: &Bound<'py, PyDict>, key: &'static str) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    match d.get_item(key)? {
        Some(v) => v.extract::<T>().map_err(|e| {
            let e: PyErr = e.into();
            InvalidArgumentError::new_err(format!("format.{key}: {e}"))
        }),
        None => Err(InvalidArgumentError::new_err(format!("format.{key}: missing"))),
    }
}

fn pattern(d: &Bound<'_, PyDict>, key: &'static str) -> PyResult<BitPattern> {
    let p: Bound<'_, PyDict> = item(d, key)?;
    Ok(BitPattern { mask: item(&p, "mask")?, value: item(&p, "value")? })
}

fn format_from_dict(d: &Bound<'_, PyDict>) -> PyResult<PageTableFormat> {
    let levels: Vec<Bound<'_, PyDict>> = item(d, "levels")?;
    let levels = levels
        .iter()
        .map(|l| {
            Ok(LevelFormat {
                name: item(l, "name")?,
                shift: item(l, "shift")?,
                index_bits: item(l, "index_bits")?,
                leaf: item(l, "leaf")?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let va_form: String = item(d, "va_form")?;
    let va_form = match va_form.as_str() {
        "sign_extended" => VaForm::SignExtended,
        "zero_extended" => VaForm::ZeroExtended,
        "ones_extended" => VaForm::OnesExtended,
        other => return Err(InvalidArgumentError::new_err(format!("format.va_form: unknown form {other:?}"))),
    };
    let e: Bound<'_, PyDict> = item(d, "entry")?;
    let flags: Vec<Bound<'_, PyDict>> = item(&e, "flags")?;
    let flags = flags
        .iter()
        .map(|f| {
            let name: String = item(f, "flag")?;
            let flag = PteFlags::from_name(&name)
                .ok_or_else(|| InvalidArgumentError::new_err(format!("format.entry.flags: unknown flag {name:?}")))?;
            Ok(FlagEncoding { flag, when_set: item(f, "when_set")?, when_clear: item(f, "when_clear")? })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let entry = EntryEncoding {
        valid: pattern(&e, "valid")?,
        table: pattern(&e, "table")?,
        table_bits: item(&e, "table_bits")?,
        page_bits: item(&e, "page_bits")?,
        huge_bits: item(&e, "huge_bits")?,
        pfn_shift: item(&e, "pfn_shift")?,
        pfn_mask: item(&e, "pfn_mask")?,
        flags,
    };
    let f = PageTableFormat {
        name: item(d, "name")?,
        levels,
        va_bits: item(d, "va_bits")?,
        va_form,
        phys_bits: item(d, "phys_bits")?,
        entry,
    };
    guarded(|| f.validate())?;
    Ok(f)
}

fn format_to_dict<'py>(py: Python<'py>, f: &PageTableFormat) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &f.name)?;
    let levels = f
        .levels
        .iter()
        .map(|l| {
            let ld = PyDict::new(py);
            ld.set_item("name", &l.name)?;
            ld.set_item("shift", l.shift)?;
            ld.set_item("index_bits", l.index_bits)?;
            ld.set_item("leaf", l.leaf)?;
            Ok(ld)
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("levels", levels)?;
    d.set_item("va_bits", f.va_bits)?;
    d.set_item(
        "va_form",
        match f.va_form {
            VaForm::SignExtended => "sign_extended",
            VaForm::ZeroExtended => "zero_extended",
            VaForm::OnesExtended => "ones_extended",
        },
    )?;
    d.set_item("phys_bits", f.phys_bits)?;
    let e = PyDict::new(py);
    for (key, p) in [("valid", f.entry.valid), ("table", f.entry.table)] {
        let pd = PyDict::new(py);
        pd.set_item("mask", p.mask)?;
        pd.set_item("value", p.value)?;
        e.set_item(key, pd)?;
    }
    e.set_item("table_bits", f.entry.table_bits)?;
    e.set_item("page_bits", f.entry.page_bits)?;
    e.set_item("huge_bits", f.entry.huge_bits)?;
    e.set_item("pfn_shift", f.entry.pfn_shift)?;
    e.set_item("pfn_mask", f.entry.pfn_mask)?;
    let flags = f
        .entry
        .flags
        .iter()
        .map(|fl| {
            let fd = PyDict::new(py);
            fd.set_item("flag", fl.flag.names().first().copied().unwrap_or(""))?;
            fd.set_item("when_set", fl.when_set)?;
            fd.set_item("when_clear", fl.when_clear)?;
            Ok(fd)
        })
        .collect::<PyResult<Vec<_>>>()?;
    e.set_item("flags", flags)?;
    d.set_item("entry", e)?;
    Ok(d)
}

/// A preset page-table format as plain data (a starting point for a new
/// architecture's format).
#[pyfunction]
pub fn page_table_format<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let f = guarded(|| PageTableFormat::preset(name))?;
    format_to_dict(py, &f)
}

fn kind_name(k: EntryKind) -> String {
    format!("{k:?}").to_lowercase()
}

#[pymethods]
impl PyMm {
    /// Hand the pfns `[start_pfn, start_pfn + count)` (already reserved,
    /// e.g. x86's brk buffer) to the early page-table allocator.
    fn set_early_pgt_pool(&self, start_pfn: u64, count: u64) -> PyResult<()> {
        if count > 1 << 20 {
            return Err(InvalidArgumentError::new_err("count: at most 2**20 pages"));
        }
        let end = start_pfn
            .checked_add(count)
            .ok_or_else(|| InvalidArgumentError::new_err("start_pfn + count: past the end of the address space"))?;
        let mut mm = self.shared.lock();
        mm.early_pgt_pool = (start_pfn..end).rev().collect();
        Ok(())
    }

    /// `alloc_low_pages`: `count` page-table pages from the early pool while
    /// it lasts, then memblock (top-down); their pfns.
    fn alloc_low_pages(&self, count: usize) -> PyResult<Vec<u64>> {
        guarded(|| self.shared.lock().alloc_low_pages(count))
    }

    /// How many pages of the early page-table pool are still unused (they
    /// are handed out from its start).
    fn early_pgt_pool_left(&self) -> usize {
        self.shared.lock().early_pgt_pool.len()
    }

    /// Create the kernel page table in a preset format ("x86_64_4level",
    /// "x86_64_5level", "riscv_sv39", "riscv_sv48", "arm64_4k_48bit") or a
    /// format given as plain data (see `page_table_format`). `root_pfn`:
    /// the page of a root table the kernel image holds statically (nothing
    /// is allocated for it); otherwise the root comes from the early pool.
    #[pyo3(signature = (format, root_pfn = None))]
    fn init_kernel_pagetable(&self, format: FormatArg<'_>, root_pfn: Option<u64>) -> PyResult<()> {
        let f = match format {
            FormatArg::Preset(name) => guarded(|| PageTableFormat::preset(&name))?,
            FormatArg::Data(d) => format_from_dict(&d)?,
        };
        guarded(|| self.shared.lock().init_kernel_pagetable(f, root_pfn))
    }

    /// `init_memory_mapping`: map physical `[start, end)` at `page_offset`.
    /// `page_size_mask` has bit PG_LEVEL_2M (2, value 4) for 2 MiB and bit
    /// PG_LEVEL_1G (3, value 8) for 1 GiB pages. Before the buddy allocator
    /// exists, new tables come from the early pool (unless `early_pool` is
    /// false), then from memblock, top-down within `alloc_range` (physical
    /// `(start, end)`, default: all memory). Returns the ranges as (start,
    /// end, page size).
    #[pyo3(signature = (start, end, page_size_mask, page_offset, early_pool = true, alloc_range = None))]
    #[allow(clippy::too_many_arguments)]
    fn init_memory_mapping(
        &self,
        py: Python<'_>,
        start: u64,
        end: u64,
        page_size_mask: u32,
        page_offset: u64,
        early_pool: bool,
        alloc_range: Option<(u64, u64)>,
    ) -> PyResult<Vec<(u64, u64, u64)>> {
        let early = EarlyTables::low_pages(early_pool, alloc_range);
        py.detach(|| {
            guarded(|| {
                let plan = self.shared.lock().init_memory_mapping(start, end, page_size_mask, page_offset, early)?;
                Ok(plan.iter().map(|r| (r.start, r.end, r.page_size())).collect())
            })
        })
    }

    /// Map `[virt, virt+length)` to `phys` with the named flags ("WRITE",
    /// "NOEXEC", "GLOBAL", ...): the largest pages alignment allows, or only
    /// `page_size` pages.
    #[pyo3(signature = (virt, phys, length, flags = vec!["WRITE".to_string(), "GLOBAL".to_string(), "NOEXEC".to_string(), "ACCESSED".to_string(), "DIRTY".to_string()], page_size = None))]
    fn kernel_map_range(&self, virt: u64, phys: u64, length: u64, flags: Vec<String>, page_size: Option<u64>) -> PyResult<()> {
        guarded(|| {
            let f = flags_from(&flags)?;
            let policy = page_size.map_or(PageSizePolicy::Largest, PageSizePolicy::Force);
            self.shared.lock().kernel_map_range(virt, phys, length, f, policy)
        })
    }

    /// Map `[virt, virt+length)` to `phys` with tables the kernel image
    /// holds statically, `table_pfns` (used in order; nothing is taken
    /// from memblock or the buddy allocator), as x86's high kernel mapping.
    #[pyo3(signature = (virt, phys, length, table_pfns, flags = vec!["WRITE".to_string(), "GLOBAL".to_string(), "ACCESSED".to_string(), "DIRTY".to_string()], page_size = None))]
    fn kernel_map_static(
        &self,
        virt: u64,
        phys: u64,
        length: u64,
        table_pfns: Vec<u64>,
        flags: Vec<String>,
        page_size: Option<u64>,
    ) -> PyResult<()> {
        guarded(|| {
            let f = flags_from(&flags)?;
            let policy = page_size.map_or(PageSizePolicy::Largest, PageSizePolicy::Force);
            self.shared.lock().kernel_map_static(virt, phys, length, f, policy, table_pfns)
        })
    }

    /// `change_page_attr`: set the flags `set` and clear the flags `clear`
    /// ("WRITE", "NOEXEC", ...) on every page of `[virt, virt+length)`,
    /// which must be mapped. Huge pages are split only where a page that
    /// changes is covered in part; with `account` the splits are counted
    /// in `direct_pages_count` (x86 counts those of the direct map and of
    /// the kernel image's mapping). Returns how many leaves changed.
    #[pyo3(signature = (virt, length, set = Vec::new(), clear = Vec::new(), account = false))]
    fn kernel_change_attr(&self, virt: u64, length: u64, set: Vec<String>, clear: Vec<String>, account: bool) -> PyResult<u64> {
        guarded(|| {
            let (s, c) = (flags_from(&set)?, flags_from(&clear)?);
            self.shared.lock().kernel_change_attr(virt, length, s, c, account)
        })
    }

    /// `set_memory_np`: every page of `[virt, virt+length)`, which must be
    /// mapped, stops being present. Huge pages covered in part are split
    /// (with `account`, counted in `direct_pages_count`); the page tables
    /// stay. Returns how many leaves went.
    #[pyo3(signature = (virt, length, account = false))]
    fn kernel_set_not_present(&self, virt: u64, length: u64, account: bool) -> PyResult<u64> {
        guarded(|| self.shared.lock().kernel_set_not_present(virt, length, account))
    }

    /// x86's `direct_pages_count` as `[(page size, count)]`: the leaves
    /// `init_memory_mapping` created or found again in its ranges, and the
    /// accounted splits since (what /proc/meminfo's DirectMap lines show).
    fn direct_pages_count(&self) -> PyResult<Vec<(u64, i64)>> {
        guarded(|| {
            let mm = self.shared.lock();
            let pt = mm.kernel_pt()?;
            Ok(pt.direct_pages_count())
        })
    }

    /// Map many pages in one call: `virts[i] -> physs[i]`, each of
    /// `page_size`, all with the named flags. All or nothing. Until
    /// memblock hands its memory to the buddy allocator, new tables come
    /// as `tables` says: "low_pages" (the early pool, then memblock
    /// top-down, as `alloc_low_pages`) or "memblock" (a `memblock_alloc`
    /// each, as x86's `spp_getpage`).
    #[pyo3(signature = (virts, physs, page_size = 4096, flags = vec!["WRITE".to_string(), "GLOBAL".to_string(), "NOEXEC".to_string(), "ACCESSED".to_string(), "DIRTY".to_string()], tables = "low_pages"))]
    #[allow(clippy::too_many_arguments)]
    fn kernel_map_batch(&self, py: Python<'_>, virts: PyBuffer<u64>, physs: PyBuffer<u64>, page_size: u64, flags: Vec<String>, tables: &str) -> PyResult<()> {
        if virts.item_count() != physs.item_count() {
            return Err(InvalidArgumentError::new_err("physs: must be as long as virts"));
        }
        let items: Vec<(u64, u64, u64)> =
            virts.to_vec(py)?.into_iter().zip(physs.to_vec(py)?).map(|(v, p)| (v, p, page_size)).collect();
        py.detach(|| {
            guarded(|| {
                let f = flags_from(&flags)?;
                let early = match tables {
                    "low_pages" => EarlyTables::default(),
                    "memblock" => EarlyTables::spp_getpage(),
                    other => return Err(MmError::invalid("tables", format!("{other:?}: expected \"low_pages\" or \"memblock\""))),
                };
                self.shared.lock().with_kernel_pagetable_rule(early, |pt, src| pt.map_batch(src, &items, f))
            })
        })
    }

    /// Unmap `[virt, virt+length)` (splitting huge pages at the edges).
    fn kernel_unmap_range(&self, virt: u64, length: u64) -> PyResult<()> {
        guarded(|| self.shared.lock().kernel_unmap_range(virt, length))
    }

    /// Translate a virtual address: phys, page size, level, flags, raw entry.
    fn translate<'py>(&self, py: Python<'py>, virt: u64) -> PyResult<Bound<'py, PyDict>> {
        let t = guarded(|| {
            let mm = self.shared.lock();
            let pt = mm.kernel_pt()?;
            pt.translate(virt)
        })?;
        let d = PyDict::new(py);
        d.set_item("phys", t.phys)?;
        d.set_item("page_size", t.page_size)?;
        d.set_item("level", t.level)?;
        d.set_item("flags", t.flags.names())?;
        d.set_item("entry", t.entry)?;
        Ok(d)
    }

    /// `slow_virt_to_phys`: the physical address `virt` maps to, by a walk
    /// of the kernel page table (the per-call fast form of `translate`).
    fn slow_virt_to_phys(&self, virt: u64) -> PyResult<u64> {
        guarded(|| {
            let mm = self.shared.lock();
            let pt = mm.kernel_pt()?;
            match pt.translate_phys(virt) {
                Some(phys) => Ok(phys),
                None => pt.translate(virt).map(|t| t.phys),
            }
        })
    }

    /// Each level's index, table pfn, raw entry and kind for `virt`.
    fn walk<'py>(&self, py: Python<'py>, virt: u64) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let steps = guarded(|| {
            let mm = self.shared.lock();
            let pt = mm.kernel_pt()?;
            pt.walk(virt)
        })?;
        steps
            .iter()
            .map(|s| {
                let d = PyDict::new(py);
                d.set_item("level", s.level)?;
                d.set_item("name", &s.name)?;
                d.set_item("index", s.index)?;
                d.set_item("table_pfn", s.table_pfn)?;
                d.set_item("entry", s.entry)?;
                d.set_item("kind", kind_name(s.kind))?;
                d.set_item("text", s.to_string())?;
                Ok(d)
            })
            .collect()
    }

    /// Translate every address of the u64 buffer `virts` into `out`
    /// (2**64-1 for an unmapped address); returns how many were mapped.
    fn translate_batch(&self, py: Python<'_>, virts: PyBuffer<u64>, out: PyBuffer<u64>) -> PyResult<usize> {
        if out.readonly() || out.item_count() != virts.item_count() {
            return Err(InvalidArgumentError::new_err("out: needs a writable uint64 buffer as long as virts"));
        }
        let v = virts.to_vec(py)?;
        let mut o = vec![TRANSLATE_FAULT; v.len()];
        let n = py.detach(|| {
            guarded(|| {
                let mm = self.shared.lock();
                let pt = mm.kernel_pt()?;
                pt.translate_batch(&v, &mut o)
            })
        })?;
        out.copy_from_slice(py, &o)?;
        Ok(n)
    }

    /// DirectMap4k/2M/1G-style counts of `[virt, virt+length)` in kB, by
    /// page size, and the page-table pages in use.
    fn leaf_counts_kb(&self, virt: u64, length: u64) -> PyResult<Vec<(u64, u64)>> {
        guarded(|| {
            let mm = self.shared.lock();
            let c = mm.kernel_leaf_counts(virt, length)?;
            Ok(c.by_size.iter().map(|&(size, n)| (size, n * size / 1024)).collect())
        })
    }

    /// The flags the CPU honours (x86's `__supported_pte_mask`): mappings
    /// made from now on, and attribute changes, leave the others out.
    fn set_supported_pte_mask(&self, flags: Vec<String>) -> PyResult<()> {
        guarded(|| {
            let f = flags_from(&flags)?;
            let mut mm = self.shared.lock();
            mm.with_kernel_pagetable(|pt, _| {
                pt.set_supported_mask(f);
                Ok(())
            })
        })
    }

    /// Pages of `[virt, virt+length)` mapped writable and executable
    /// (x86's W+X check).
    fn wx_pages(&self, virt: u64, length: u64) -> PyResult<u64> {
        guarded(|| {
            let mm = self.shared.lock();
            mm.kernel_pt()?.wx_pages(virt, length)
        })
    }

    /// Pages of the kernel page table.
    fn page_table_pages(&self) -> PyResult<u64> {
        guarded(|| {
            let mm = self.shared.lock();
            let pt = mm.kernel_pt()?;
            Ok(pt.page_table_pages())
        })
    }
}
