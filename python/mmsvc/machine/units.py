"""Number parsing shared by the machine-description modules.

Two families live here:

* the kernel's own number readers, reproduced for the command line:
  ``kernel_strtoull`` (``simple_strtoull`` with base 0: ``0x`` hex, leading ``0`` octal,
  otherwise decimal; wraps at 2**64), ``memparse`` (a number then at most one
  K/M/G/T/P/E suffix), ``kstrtouint`` and ``kstrtobool``;
* the strict reader of description files (``parse_size``), which refuses what the
  kernel would silently accept (floats, booleans, negative numbers, trailing junk).
"""

from __future__ import annotations

from collections.abc import Mapping

from mmsvc.errors import MachineConfigError

U64_MASK = (1 << 64) - 1

_SUFFIX_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_HEX = "0123456789abcdefABCDEF"


def kernel_strtoull(text: str, pos: int = 0) -> tuple[int, int]:
    """Read an unsigned number the way the kernel's ``simple_strtoull(s, &end, 0)`` does.

    Returns ``(value, end)``; ``end == pos`` means no digit was read. The value wraps
    modulo 2**64 like the C code.
    """
    base = 10
    i = pos
    if i < len(text) and text[i] == "0":
        if i + 2 < len(text) and text[i + 1] in "xX" and text[i + 2] in _HEX:
            base = 16
            i += 2
        else:
            base = 8
    value = 0
    start = i
    while i < len(text):
        c = text[i]
        if c.isdigit() and c.isascii():
            d = ord(c) - 48
        elif base == 16 and c in _HEX:
            d = int(c, 16)
        else:
            break
        if d >= base:
            break
        value = (value * base + d) & U64_MASK
        i += 1
    if i == start:
        return 0, pos
    return value, i


def kstrtouint(text: str) -> int | None:
    """The kernel's ``kstrtouint(s, 0, &v)``: the whole string (an optional
    ``+``, then a number with its base prefix, then at most one newline) is a
    number that fits 32 bits; ``None`` where the kernel returns an error."""
    if text.startswith("+"):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    _, end = kernel_strtoull(text)
    if end == 0 or end != len(text):
        return None
    if text[:2].lower() == "0x":
        value = int(text[2:], 16)
    elif text.startswith("0"):
        value = int(text, 8)
    else:
        value = int(text)
    return value if value <= 0xFFFF_FFFF else None


def cpulist_parse(text: str, nbits: int) -> frozenset[int] | None:
    """The kernel's ``cpulist_parse`` (``bitmap_parselist``) for a mask of
    *nbits* bits: regions ``a``, ``a-b`` or ``a-b:used/group`` (``N`` is the
    last bit, ``all`` the whole mask) separated by commas or spaces, up to
    the end or a newline. ``None`` where the kernel returns an error: bad
    syntax, an empty or inverted range, or a bit past the mask."""
    last = nbits - 1
    out: set[int] = set()
    i, n = 0, len(text)

    def number(j: int) -> tuple[int, int] | None:
        if j < n and text[j] == "N":
            return last, j + 1
        k = j
        while k < n and text[k].isascii() and text[k].isdigit():
            k += 1
        if k == j or int(text[j:k]) > 0xFFFF_FFFF:
            return None
        return int(text[j:k]), k

    def region_end(j: int) -> bool:
        return j >= n or text[j] in ", \t\n\r\v\f"

    while True:
        while i < n and text[i] in ", \t\r\v\f":
            i += 1
        if i >= n or text[i] == "\n":
            return frozenset(out)
        if text[i:i + 3].lower() == "all":
            start, end, i = 0, last, i + 3
        else:
            got = number(i)
            if got is None:
                return None
            start, i = got
            end = start
            if not region_end(i):
                if text[i] != "-":
                    return None
                got = number(i + 1)
                if got is None:
                    return None
                end, i = got
        used, group = end + 1, end + 1
        if not region_end(i):
            if text[i] != ":":
                return None
            got = number(i + 1)
            if got is None or got[1] >= n or text[got[1]] != "/":
                return None
            used, i = got
            got = number(i + 1)
            if got is None:
                return None
            group, i = got
        if start > end or group == 0 or used > group or end >= nbits:
            return None
        for base in range(start, end + 1, group):
            out.update(range(base, min(base + used, end + 1)))


def memparse(text: str, pos: int = 0) -> tuple[int, int]:
    """The kernel's ``memparse``: a number then an optional single size suffix.

    Suffixes K, M, G, T, P, E (either case) multiply by 2**10 ... 2**60.
    Returns ``(value, end)``; ``end == pos`` if no number was read.
    """
    value, end = kernel_strtoull(text, pos)
    if end == pos:
        return 0, pos
    if end < len(text) and text[end].lower() in _SUFFIX_SHIFT:
        value = (value << _SUFFIX_SHIFT[text[end].lower()]) & U64_MASK
        end += 1
    return value, end


def memparse_full(text: str) -> int | None:
    """``memparse`` that must consume the whole string; ``None`` when it does not."""
    value, end = memparse(text)
    if end == 0 or end != len(text):
        return None
    return value


def kstrtobool(text: str | None) -> bool | None:
    """The kernel's ``kstrtobool``: y/Y/1/on → True, n/N/0/off → False, else ``None``."""
    if not text:
        return None
    c = text[0]
    if c in "yY1":
        return True
    if c in "nN0":
        return False
    if c in "oO" and len(text) > 1:
        if text[1] in "nN":
            return True
        if text[1] in "fF":
            return False
    return None


def parse_size(value: object, field: str, *, allow_zero: bool = True) -> int:
    """Read an integer from a description file.

    Accepts Python ints and strings holding a decimal, ``0x`` hex, ``0o`` octal or
    ``0b`` binary number with an optional K/M/G/T/P/E suffix (``"128M"``, ``"0x1000"``,
    ``"4G"``). Refuses booleans, floats, negative values and anything else, raising
    :class:`MachineConfigError` naming *field*.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MachineConfigError(field, f"expected a non-negative integer, got {value!r}")
    if isinstance(value, str):
        s = value.strip().replace("_", "")
        shift = 0
        if s and s[-1].lower() in _SUFFIX_SHIFT and not (
            s.lower().startswith("0x") and s[-1] in _HEX
        ):
            shift = _SUFFIX_SHIFT[s[-1].lower()]
            s = s[:-1]
        try:
            number = int(s, 0)
        except ValueError:
            raise MachineConfigError(
                field, f"expected a non-negative integer, got {value!r}"
            ) from None
        value = number << shift if number >= 0 else number
    if value < 0:
        raise MachineConfigError(field, f"must not be negative, got {value}")
    if not allow_zero and value == 0:
        raise MachineConfigError(field, "must not be zero")
    return value


def parse_bool(value: object, field: str) -> bool:
    """A strict boolean from a description file (``true``/``false`` only)."""
    if not isinstance(value, bool):
        raise MachineConfigError(field, f"expected true or false, got {value!r}")
    return value


def parse_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise MachineConfigError(field, f"expected a string, got {value!r}")
    return value


def check_keys(data: object, allowed: set[str] | frozenset[str], path: str) -> Mapping:
    """*data* as a mapping whose keys are all in *allowed*."""
    if not isinstance(data, Mapping):
        raise MachineConfigError(path or "<root>", f"expected a table/object, got {data!r}")
    for key in data:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise MachineConfigError(
                where, f"unknown key {key!r} (known: {', '.join(sorted(allowed))})")
    return data


def check_fields(data: object, required: tuple[str, ...], path: str,
                 optional: tuple[str, ...] = ()) -> Mapping:
    """*data* as a mapping with every key of *required*, and others only
    from *optional*."""
    d = check_keys(data, {*required, *optional}, path)
    for key in required:
        if key not in d:
            raise MachineConfigError(join_path(path, key), "missing")
    return d


def join_path(path: str, key: str) -> str:
    """The field path of *key* inside *path*."""
    return f"{path}.{key}" if path else key


def as_list(data: object, path: str) -> list:
    """*data* as a list (from a list or a tuple)."""
    if not isinstance(data, list | tuple):
        raise MachineConfigError(path, f"expected a list, got {data!r}")
    return list(data)
