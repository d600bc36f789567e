"""The catalogue of known kernel builds (``kernels.toml``), and System.map reading.

A :class:`KernelBuild` bundles a release's :class:`KernelImage`, :class:`KernelConfig`
and the per-build constants a boot needs (:class:`BuildConstants`). Builds are keyed by
the release string "Linux version <release>" prints; :func:`lookup` also accepts aliases.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path

from mmsvc.errors import MachineConfigError
from mmsvc.machine.description import KernelConfig, KernelImage
from mmsvc.units import PAGE_SIZE, div_round_up, round_up

SECTION_SIZE_BITS = 27  # x86_64: 128 MiB sections


@dataclass(frozen=True)
class BuildConstants:
    """Per-build numbers that are not in the config and not in a log.

    ``pglist_data_size``: ``sizeof(pg_data_t)``; NODE_DATA takes it page-rounded
    (:meth:`node_data_size`), a memoryless node's pgdat unrounded.
    ``percpu_unit_pages``: ``PFN_ALIGN(static+reserved+dynamic)`` per CPU
    ("percpu: Embedded N pages/cpu"). ``percpu_static``: bytes of the static per-cpu
    section ("s217088" in the same line). ``mem_section_size``: ``sizeof(struct mem_section)``.
    ``smp_alternatives``, ``decrypted_unused``, ``text_rodata_gap``, ``rodata_data_gap``:
    bytes the image gives back after boot ("Freeing SMP alternatives memory",
    "Freeing unused decrypted memory", "Freeing unused kernel image (text/rodata gap)",
    "(rodata/data gap)"). ``idt_table_offset``: bytes from ``_text`` to ``idt_table``
    (x86, from the symbol table). ``ftrace_entries``: the image's mcount call sites
    ("ftrace: allocating N entries"). ``brk_size``: ``__brk_limit - __brk_base`` (x86,
    the brk area ``_end`` closes). ``uml_binary_start``: UML's ``__binary_start``;
    ``uml_small_allocations``: UML's early small allocations in bytes.
    ``bad_ram_warning``: the build carries Debian's patch
    "x86: memtest: WARN if bad RAM found" (never merged upstream), so
    ``memtest=`` warns once when it reserves bad RAM.
    """

    pglist_data_size: int | None = None
    percpu_unit_pages: int | None = None
    percpu_static: int | None = None
    mem_section_size: int | None = None
    uml_binary_start: int | None = None
    smp_alternatives: int | None = None
    decrypted_unused: int | None = None
    text_rodata_gap: int | None = None
    rodata_data_gap: int | None = None
    idt_table_offset: int | None = None
    ftrace_entries: int | None = None
    brk_size: int | None = None
    uml_small_allocations: int | None = None
    bad_ram_warning: bool | None = None

    @property
    def node_data_size(self) -> int | None:
        """``alloc_node_data``'s size: ``sizeof(pg_data_t)`` rounded up to a page."""
        return round_up(self.pglist_data_size, PAGE_SIZE) if self.pglist_data_size else None

    def sections_per_root(self, page_size: int = PAGE_SIZE) -> int | None:
        if not self.mem_section_size:
            return None
        return page_size // self.mem_section_size

    def mem_section_root_bytes(self, max_physmem_bits: int) -> int | None:
        """Bytes of the ``mem_section`` root pointer array (SPARSEMEM_EXTREME):
        8 × NR_SECTION_ROOTS, NR_SECTION_ROOTS = 2^(bits−27) / SECTIONS_PER_ROOT."""
        per_root = self.sections_per_root()
        if per_root is None:
            return None
        sections = 1 << (max_physmem_bits - SECTION_SIZE_BITS)
        return 8 * div_round_up(sections, per_root)


@dataclass(frozen=True)
class KernelBuild:
    release: str
    arch: str
    profile: str
    image: KernelImage
    kconfig: KernelConfig
    constants: BuildConstants = field(default_factory=BuildConstants)
    aliases: tuple[str, ...] = ()
    description: str = ""
    synthetic: bool = False


_BUILD_KEYS = {"release", "arch", "profile", "image", "kconfig", "constants", "aliases",
               "description", "synthetic"}
_CONST_KEYS = set(BuildConstants.__dataclass_fields__)


def parse_catalogue(data: dict) -> tuple[KernelBuild, ...]:
    """Builds from a parsed catalogue (``{"kernel": [ ... ]}``)."""
    out = []
    for i, entry in enumerate(data.get("kernel", [])):
        path = f"kernel[{i}]"
        unknown = set(entry) - _BUILD_KEYS
        if unknown:
            raise MachineConfigError(f"{path}.{sorted(unknown)[0]}", "unknown key")
        image = KernelImage.from_dict({"release": entry["release"], **entry.get("image", {})},
                                      f"{path}.image")
        kconfig = KernelConfig.from_dict(entry.get("kconfig", {}), f"{path}.kconfig")
        consts = entry.get("constants", {})
        bad = set(consts) - _CONST_KEYS
        if bad:
            raise MachineConfigError(f"{path}.constants.{sorted(bad)[0]}", "unknown key")
        out.append(KernelBuild(
            release=entry["release"], arch=entry["arch"], profile=entry["profile"],
            image=image, kconfig=kconfig, constants=BuildConstants(**consts),
            aliases=tuple(entry.get("aliases", ())), description=entry.get("description", ""),
            synthetic=bool(entry.get("synthetic", False))))
    return tuple(out)


@cache
def builds() -> tuple[KernelBuild, ...]:
    """Every build in the shipped catalogue."""
    text = resources.files("mmsvc.machine").joinpath("kernels.toml").read_text()
    return parse_catalogue(tomllib.loads(text))


def find(release: str, arch: str | None = None) -> KernelBuild | None:
    """The build with this release (or alias) and, if given, architecture."""
    for b in builds():
        if (release == b.release or release in b.aliases) and (arch is None or arch == b.arch):
            return b
    return None


def lookup(release: str, arch: str | None = None, field: str = "kernel.release") -> KernelBuild:
    """Like :func:`find` but raises :class:`MachineConfigError` naming *field*."""
    b = find(release, arch)
    if b is None:
        known = ", ".join(x.release for x in builds() if arch is None or x.arch == arch)
        raise MachineConfigError(field, f"unknown kernel release {release!r}"
                                        f"{f' for {arch}' if arch else ''} (known: {known})")
    return b


_DEFAULTS = {("x86_64", "5.14"): "5.14.0-generic", ("x86_64", "6.1"): "6.1.0-56-amd64",
             ("um", "6.1"): "6.1.176", ("um", "5.14"): "6.1.176"}


def default_build(arch: str, profile: str) -> KernelBuild | None:
    """The build a description without ``kernel`` gets (None for unknown arches)."""
    name = _DEFAULTS.get((arch, profile))
    return find(name, arch) if name else None


# --------------------------------------------------------------------------- System.map

X86_START_KERNEL_MAP = 0xFFFFFFFF80000000
UML_BINARY_START = 0x60000000

_REQUIRED = ("_text", "_stext", "_etext", "_sdata", "_edata", "__start_rodata",
             "__end_rodata", "__init_begin", "__init_end", "__bss_start", "__bss_stop", "_end")


def parse_system_map(text: str) -> dict[str, int]:
    """``{symbol: address}`` from System.map lines ``<hex address> <type> <name>``."""
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            raise MachineConfigError(f"System.map line {lineno}", f"malformed: {line!r}")
        try:
            out[parts[2]] = int(parts[0], 16)
        except ValueError:
            raise MachineConfigError(f"System.map line {lineno}",
                                     f"bad address {parts[0]!r}") from None
    return out


def image_from_system_map(
    source: str | PathLike[str], release: str = "", arch: str = "x86_64",
    *, load_address: int | None = None,
) -> KernelImage:
    """Describe a build from its System.map (a path or the text itself).

    x86_64: the load address is ``_text − __START_KERNEL_map`` (the no-KASLR physical
    address); ``reserved_span`` is ``__end_of_kernel_reserve − _text`` (falls back to
    ``__bss_stop`` rounded up to 2 MiB). UML: addresses are relative to
    ``__binary_start`` (default 0x60000000) and ``image_end`` is ROUND_UP(_end) minus it.
    ``init`` adds ``_sinittext.._einittext`` when it lies outside ``__init_begin..__init_end``.
    """
    if isinstance(source, PathLike) or (isinstance(source, str) and "\n" not in source
                                        and Path(source).exists()):
        text = Path(source).read_text()
    else:
        text = str(source)
    return image_from_symbols(parse_system_map(text), release, arch,
                              load_address=load_address, what="System.map")


def image_from_vmlinux(
    path: str | PathLike[str], release: str = "", arch: str = "x86_64",
    *, load_address: int | None = None,
) -> KernelImage:
    """Describe a build from its ``vmlinux`` (an ELF64 file with a symbol table)."""
    return image_from_symbols(elf_symbols(Path(path).read_bytes(), set(_WANTED)), release,
                              arch, load_address=load_address, what="vmlinux")


_WANTED = (*_REQUIRED, "_sinittext", "_einittext", "__binary_start",
           "__end_of_kernel_reserve", "idt_table", "__start_mcount_loc", "__stop_mcount_loc")


def elf_symbols(data: bytes, wanted: set[str] | None = None) -> dict[str, int]:
    """``{name: value}`` of an ELF64 little-endian file's ``.symtab``."""
    import struct

    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise MachineConfigError("vmlinux", "not a little-endian ELF64 file")
    try:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                    for i in range(shnum)]
        out: dict[str, int] = {}
        for sh in sections:
            if sh[1] != 2:  # SHT_SYMTAB
                continue
            _, _, _, _, off, size, link, _, _, entsize = sh
            stroff, strsize = sections[link][4], sections[link][5]
            strtab = data[stroff:stroff + strsize]
            for i in range(size // (entsize or 24)):
                name_off, _info, _other, _shndx, value, _sz = struct.unpack_from(
                    "<IBBHQQ", data, off + i * (entsize or 24))
                end = strtab.find(b"\0", name_off)
                name = strtab[name_off:end].decode(errors="replace")
                if wanted is None or name in wanted:
                    out[name] = value
        return out
    except (struct.error, IndexError) as exc:
        raise MachineConfigError("vmlinux", f"truncated or malformed ELF: {exc}") from None


def image_from_symbols(
    syms: dict[str, int], release: str = "", arch: str = "x86_64", *,
    load_address: int | None = None, what: str = "System.map",
) -> KernelImage:
    """A :class:`KernelImage` from the link's symbols (System.map or vmlinux)."""
    for name in _REQUIRED:
        if name not in syms:
            raise MachineConfigError(what, f"missing symbol {name}")
    s = syms
    init = s["__init_end"] - s["__init_begin"]
    if "_sinittext" in s and "_einittext" in s:
        lo, hi = s["_sinittext"], s["_einittext"]
        overlap = max(0, min(hi, s["__init_end"]) - max(lo, s["__init_begin"]))
        init += (hi - lo) - overlap
    if arch == "um":
        base = s.get("__binary_start", UML_BINARY_START) & ~(PAGE_SIZE - 1)
        start = s["_text"] - base if load_address is None else load_address
        end = round_up(s["_end"], PAGE_SIZE) - base
        reserved = end - start
        image_end = end - start
    else:
        if load_address is None:
            if s["_text"] < X86_START_KERNEL_MAP:
                raise MachineConfigError(
                    what, "_text is not a kernel-map address; pass load_address")
            load_address = s["_text"] - X86_START_KERNEL_MAP
        start = load_address
        if "__end_of_kernel_reserve" in s:
            reserved = s["__end_of_kernel_reserve"] - s["_text"]
        else:
            reserved = round_up(s["__bss_stop"], 0x200000) - s["_text"]
        image_end = round_up(s["_end"], PAGE_SIZE) - s["_text"]
    idt = s["idt_table"] - s["_text"] if "idt_table" in s and arch != "um" else None
    mcount = (s["__stop_mcount_loc"] - s["__start_mcount_loc"]) // 8 \
        if "__start_mcount_loc" in s and "__stop_mcount_loc" in s else None
    return KernelImage(
        release=release or "unknown",
        load_address=start,
        text=s["_etext"] - s["_stext"],
        rwdata=s["_edata"] - s["_sdata"],
        rodata=s["__end_rodata"] - s["__start_rodata"],
        init=init,
        bss=s["__bss_stop"] - s["__bss_start"],
        reserved_span=reserved,
        image_end=image_end,
        idt_table_offset=idt if idt is not None and idt >= 0 else None,
        ftrace_entries=mcount or None,
    )
