"""The x86 e820 table: entries, the kernel's sanitising, printing and the setup_arch edits.

Every function here is pure: it takes a tuple of :class:`E820Entry` and returns a new
one. The order of entries matters (the kernel appends and edits in place, and only
sanitising sorts), so tables are tuples, not sets.

What each function mirrors (Linux 5.14 and 6.1 agree on all of it):

* :func:`update_table` — ``e820__update_table``: change points sorted by address with
  starts before ends at equal addresses; the highest type number wins where entries
  overlap; neighbours of one type merge except PRAM (12) and SOFT_RESERVED, which are
  split at every change point; empty entries vanish; fewer than two entries, or an entry
  that wraps past 2**64, leave the table unchanged (status -1).
* :func:`range_add`, :func:`range_remove`, :func:`range_update` — ``e820__range_*``,
  including the zeroed husks ``range_remove`` leaves behind until the next sanitising.
* :func:`format_table` — ``e820__print_table``.
* :func:`apply_user_map` — ``mem=``/``memmap=`` then ``e820__finish_early_params``.
* :func:`add_kernel_range`, :func:`trim_bios_range` — the silent edits of ``setup_arch``.
* :func:`memblock_memory` — what ``e820__memblock_setup`` hands to memblock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mmsvc.errors import MachineConfigError
from mmsvc.machine.units import U64_MASK
from mmsvc.units import PAGE_SIZE, round_down, round_up

E820_RAM = 1
E820_RESERVED = 2
E820_ACPI = 3
E820_NVS = 4
E820_UNUSABLE = 5
E820_PMEM = 7
E820_PRAM = 12
E820_RESERVED_KERN = 128
E820_SOFT_RESERVED = 0xEFFFFFFF

#: 128 BIOS entries + 3 per possible node (MAX_NUMNODES = 1024 with NODES_SHIFT=10).
E820_MAX_ENTRIES = 128 + 3 * 1024

BIOS_BEGIN = 0xA0000
BIOS_END = 0x100000

#: Names a description file may use for a type (numbers are accepted too).
TYPE_BY_NAME: dict[str, int] = {
    "usable": E820_RAM,
    "ram": E820_RAM,
    "reserved": E820_RESERVED,
    "acpi": E820_ACPI,
    "acpi data": E820_ACPI,
    "nvs": E820_NVS,
    "acpi nvs": E820_NVS,
    "unusable": E820_UNUSABLE,
    "pmem": E820_PMEM,
    "pram": E820_PRAM,
    "reserved_kern": E820_RESERVED_KERN,
    "soft reserved": E820_SOFT_RESERVED,
    "soft_reserved": E820_SOFT_RESERVED,
}


@dataclass(frozen=True, slots=True)
class E820Entry:
    """One e820 entry: ``[addr, addr + size)`` of type ``type`` (a u32)."""

    addr: int
    size: int
    type: int

    @property
    def end(self) -> int:
        """Exclusive end address."""
        return self.addr + self.size

    def to_dict(self) -> dict[str, int]:
        return {"addr": self.addr, "size": self.size, "type": self.type}


Table = tuple[E820Entry, ...]


def type_name(etype: int) -> str:
    """The name ``e820__print_table`` prints for a type."""
    if etype in (E820_RAM, E820_RESERVED_KERN):
        return "usable"
    if etype == E820_RESERVED:
        return "reserved"
    if etype == E820_SOFT_RESERVED:
        return "soft reserved"
    if etype == E820_ACPI:
        return "ACPI data"
    if etype == E820_NVS:
        return "ACPI NVS"
    if etype == E820_UNUSABLE:
        return "unusable"
    if etype in (E820_PMEM, E820_PRAM):
        return f"persistent (type {etype})"
    return f"type {etype}"


def parse_type_name(text: str) -> int | None:
    """Inverse of :func:`type_name` (``usable`` reads as RAM); ``None`` if unknown."""
    t = text.strip()
    for prefix in ("persistent (type ", "type "):
        if t.startswith(prefix):
            num = t[len(prefix):].rstrip(")")
            return int(num) if num.isdigit() else None
    return TYPE_BY_NAME.get(t.lower())


def format_entry(entry: E820Entry, who: str) -> str:
    """One printed line, e.g. ``BIOS-e820: [mem 0x...-0x...] usable``."""
    last = (entry.addr + entry.size - 1) & U64_MASK
    return f"{who}: [mem 0x{entry.addr:016x}-0x{last:016x}] {type_name(entry.type)}"


def format_table(table: Iterable[E820Entry], who: str) -> list[str]:
    """The lines ``e820__print_table(who)`` prints, without timestamps."""
    return [format_entry(e, who) for e in table]


def _nomerge(etype: int) -> bool:
    return etype in (E820_PRAM, E820_SOFT_RESERVED)


def update_table(table: Sequence[E820Entry]) -> tuple[int, Table]:
    """``e820__update_table``: returns ``(status, table)``; status -1 leaves it unchanged."""
    table = tuple(table)
    if len(table) < 2:
        return -1, table
    for e in table:
        if ((e.addr + e.size) & U64_MASK) < e.addr:
            return -1, table
    # (address, is_end, entry index); starts sort before ends at one address.
    points = []
    for idx, e in enumerate(table):
        if e.size != 0:
            points.append((e.addr, 0, idx))
            points.append((e.addr + e.size, 1, idx))
    points.sort(key=lambda p: (p[0], p[1]))
    active: list[int] = []
    out: list[E820Entry] = []
    last_type = 0
    last_addr = 0
    for addr, is_end, idx in points:
        if is_end:
            active.remove(idx)
        else:
            active.append(idx)
        current = max((table[i].type for i in active), default=0)
        if current != last_type or _nomerge(current):
            if last_type and addr - last_addr:
                out.append(E820Entry(last_addr, addr - last_addr, last_type))
            if current:
                last_addr = addr
            last_type = current
    if len(out) > E820_MAX_ENTRIES:
        out = out[:E820_MAX_ENTRIES]
    return 0, tuple(out)


def sanitize(table: Sequence[E820Entry]) -> Table:
    """:func:`update_table` without the status."""
    return update_table(table)[1]


def range_add(
    table: Sequence[E820Entry], start: int, size: int, etype: int,
    max_entries: int = E820_MAX_ENTRIES,
) -> Table:
    """``e820__range_add``: append an entry (dropped when the table is full)."""
    table = tuple(table)
    if len(table) >= max_entries:
        return table
    return table + (E820Entry(start & U64_MASK, size & U64_MASK, etype),)


def range_remove(
    table: Sequence[E820Entry], start: int, size: int, old_type: int | None,
) -> Table:
    """``e820__range_remove``; ``old_type=None`` removes every type.

    Entries fully inside the range become zeroed husks (addr 0, size 0, type 0), as in
    the kernel, and only disappear at the next :func:`update_table`.
    """
    size = min(size, U64_MASK - start)
    end = start + size
    work = list(table)
    appended: list[E820Entry] = []
    for i, e in enumerate(list(work)):
        if old_type is not None and e.type != old_type:
            continue
        e_end = e.addr + e.size
        if e.addr >= start and e_end <= end:
            work[i] = E820Entry(0, 0, 0)
            continue
        if e.addr < start and e_end > end:
            appended.append(E820Entry(end, e_end - end, e.type))
            work[i] = E820Entry(e.addr, start - e.addr, e.type)
            continue
        f_start = max(start, e.addr)
        f_end = min(end, e_end)
        if f_start >= f_end:
            continue
        new_size = e.size - (f_end - f_start)
        if e.addr < f_start:
            work[i] = E820Entry(e.addr, new_size, e.type)
        else:
            work[i] = E820Entry(f_end, new_size, e.type)
    result: Table = tuple(work)
    for a in appended:
        result = range_add(result, a.addr, a.size, a.type)
    return result


def range_update(
    table: Sequence[E820Entry], start: int, size: int, old_type: int, new_type: int,
) -> Table:
    """``e820__range_update``: retype the ``old_type`` parts of a range.

    The kernel BUGs when both types are equal; this raises ``ValueError`` instead.
    """
    if old_type == new_type:
        raise ValueError("e820 range update with equal old and new types")
    size = min(size, U64_MASK - start)
    end = start + size
    work = list(table)
    i = 0  # entries appended during the walk are visited too, as in C
    while i < len(work):
        e = work[i]
        i += 1
        if e.type != old_type:
            continue
        e_end = e.addr + e.size
        if e.addr >= start and e_end <= end:
            work[i - 1] = E820Entry(e.addr, e.size, new_type)
            continue
        if e.addr < start and e_end > end:
            if len(work) < E820_MAX_ENTRIES:
                work.append(E820Entry(start, size, new_type))
            if len(work) < E820_MAX_ENTRIES:
                work.append(E820Entry(end, e_end - end, e.type))
            work[i - 1] = E820Entry(e.addr, start - e.addr, e.type)
            continue
        f_start = max(start, e.addr)
        f_end = min(end, e_end)
        if f_start >= f_end:
            continue
        if len(work) < E820_MAX_ENTRIES:
            work.append(E820Entry(f_start, f_end - f_start, new_type))
        new_size = e.size - (f_end - f_start)
        if e.addr < f_start:
            work[i - 1] = E820Entry(e.addr, new_size, e.type)
        else:
            work[i - 1] = E820Entry(f_end, new_size, e.type)
    return tuple(work)


def bios_table(firmware: Sequence[E820Entry], field: str = "firmware.e820") -> Table:
    """The "BIOS-e820" table: the firmware entries as ``e820__memory_setup`` keeps them.

    The kernel falls back to the BIOS-88/e801 memory sizes when the firmware gives fewer
    than two entries or one wraps past 2**64; a description cannot express those sizes,
    so that case is an error here.
    """
    firmware = tuple(firmware)
    if len(firmware) < 2:
        raise MachineConfigError(
            field, "fewer than 2 entries: the kernel would ignore the e820 map and fall "
            "back to the BIOS-88/e801 sizes, which a description cannot express",
        )
    for i, e in enumerate(firmware):
        if e.size and e.addr + e.size - 1 > U64_MASK:
            raise MachineConfigError(f"{field}[{i}]", "entry wraps past 2**64")
    return sanitize(firmware)


def apply_user_map(table: Sequence[E820Entry], ops: Iterable[object]) -> Table | None:
    """Apply parsed ``mem=``/``memmap=`` operations, then sanitise like
    ``e820__finish_early_params``.

    *ops* are :class:`mmsvc.machine.cmdline.MemOp` objects in command-line order.
    Returns ``None`` when no operation set ``userdef`` (no "user:" map is printed).
    Raises :class:`MachineConfigError` where the kernel panics ("Invalid user supplied
    memory map") or BUGs.
    """
    work: Table = tuple(table)
    userdef = False
    last_field = "cmdline: memmap="
    for op in ops:
        kind = op.kind  # type: ignore[attr-defined]
        last_field = f"cmdline: {op.source}"  # type: ignore[attr-defined]
        userdef = True
        if kind == "exactmap":
            work = ()
        elif kind == "limit":
            limit = op.size  # type: ignore[attr-defined]
            work = range_remove(work, limit, U64_MASK - limit, E820_RAM)
        elif kind == "add":
            work = range_add(work, op.start, op.size, op.type)  # type: ignore[attr-defined]
        elif kind == "remove":
            work = range_remove(work, op.start, op.size, op.from_type)  # type: ignore[attr-defined]
        elif kind == "update":
            if op.from_type == op.type:  # type: ignore[attr-defined]
                raise MachineConfigError(
                    last_field, "old and new type are equal (the kernel BUGs on this)")
            work = range_update(work, op.start, op.size, op.from_type, op.type)  # type: ignore[attr-defined]
        else:  # pragma: no cover - MemOp kinds are closed
            raise ValueError(kind)
    if not userdef:
        return None
    status, out = update_table(work)
    if status < 0:
        raise MachineConfigError(
            last_field, "Invalid user supplied memory map (the kernel panics: the map has "
            "fewer than 2 entries or an entry wraps past 2**64)")
    return out


def all_mapped(table: Sequence[E820Entry], start: int, end: int, etype: int) -> bool:
    """``e820__mapped_all``: is all of ``[start, end)`` covered by entries of ``etype``?

    Like the kernel it walks entries in table order, so it expects a sanitised table.
    """
    for e in table:
        if e.type != etype:
            continue
        if e.addr >= end or e.end <= start:
            continue
        if e.addr <= start:
            start = e.end
        if start >= end:
            return True
    return False


def add_kernel_range(table: Sequence[E820Entry], start: int, size: int) -> tuple[Table, bool]:
    """``e820_add_kernel_range``: make ``[start, start+size)`` (``_text``.. ``_end``) RAM.

    Returns ``(table, warned)``; *warned* is True when the kernel prints its warning
    ".text .data .bss are not marked as E820_TYPE_RAM!" (KERN_WARNING, so it is on the
    console) and edits the table. The table is not re-sanitised here, as in the kernel.
    """
    table = tuple(table)
    if all_mapped(table, start, start + size, E820_RAM):
        return table, False
    table = range_remove(table, start, size, None)
    return range_add(table, start, size, E820_RAM), True


def trim_bios_range(table: Sequence[E820Entry]) -> Table:
    """``trim_bios_range``: page 0 becomes reserved, RAM in [0xA0000, 0x100000) goes,
    then the table is sanitised. Its messages are KERN_DEBUG (not on the console)."""
    work = range_update(table, 0, PAGE_SIZE, E820_RAM, E820_RESERVED)
    work = range_remove(work, BIOS_BEGIN, BIOS_END - BIOS_BEGIN, E820_RAM)
    return sanitize(work)


def setup_arch_table(
    table: Sequence[E820Entry], kernel_start: int, kernel_size: int,
) -> tuple[Table, bool]:
    """The silent edits in ``setup_arch`` order: kernel range, then BIOS trimming."""
    work, warned = add_kernel_range(table, kernel_start, kernel_size)
    return trim_bios_range(work), warned


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def memblock_memory(table: Sequence[E820Entry]) -> list[tuple[int, int]]:
    """``(start, end)`` ranges (end exclusive) ``e820__memblock_setup`` adds as memory.

    Only RAM and RESERVED_KERN entries count; memblock merges touching regions, then
    ``memblock_trim_memory(PAGE_SIZE)`` rounds starts up and ends down to pages and
    drops regions left empty.
    """
    ranges = [
        (e.addr, e.end) for e in table
        if e.type in (E820_RAM, E820_RESERVED_KERN) and e.size and e.end <= U64_MASK
    ]
    out = []
    for s, e in _merge(ranges):
        s2, e2 = round_up(s, PAGE_SIZE), round_down(e, PAGE_SIZE)
        if s2 < e2:
            out.append((s2, e2))
    return out


def memblock_reserved(table: Sequence[E820Entry]) -> list[tuple[int, int]]:
    """SOFT_RESERVED entries, which ``e820__memblock_setup`` marks memblock-reserved."""
    return [(e.addr, e.end) for e in table if e.type == E820_SOFT_RESERVED and e.size]
