"""Read a kernel ``.config`` into a :class:`~mmsvc.machine.description.KernelConfig`.

Only the switches :class:`KernelConfig` names are read (``CONFIG_X=y`` or ``=m`` is on,
``# CONFIG_X is not set`` or absence is off; integers accept decimal and ``0x`` hex).
Every other ``CONFIG_`` line can be kept in ``extra`` with ``keep_extra=True``.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from mmsvc.errors import MachineConfigError
from mmsvc.machine.description import KernelConfig

#: KernelConfig field → CONFIG_ symbol, where the name is not simply the upper-case field.
SYMBOL_OF: dict[str, str] = {
    "kmemleak": "DEBUG_KMEMLEAK",
    "structleak_byref_all": "GCC_PLUGIN_STRUCTLEAK_BYREF_ALL",
    "structleak_byref": "GCC_PLUGIN_STRUCTLEAK_BYREF",
    "structleak_user": "GCC_PLUGIN_STRUCTLEAK_USER",
}

_SET = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")


def symbol(field: str) -> str:
    """The ``CONFIG_`` symbol (without the prefix) behind a KernelConfig field."""
    return SYMBOL_OF.get(field, field.upper())


def parse_symbols(text: str) -> dict[str, str]:
    """All ``CONFIG_X=value`` lines as ``{X: value}`` (quotes kept); unset ones are 'n'."""
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = _SET.match(line)
        if m:
            out[m.group(1)] = m.group(2)
            continue
        m = _UNSET.match(line)
        if m:
            out[m.group(1)] = "n"
            continue
        if line.startswith("#"):
            continue
        raise MachineConfigError(f"kconfig line {lineno}", f"not a .config line: {line!r}")
    return out


def parse_kconfig(text: str, *, keep_extra: bool = False) -> KernelConfig:
    """Build a :class:`KernelConfig` from the text of a ``.config``."""
    syms = parse_symbols(text)
    kwargs: dict[str, object] = {}
    for f in KernelConfig.BOOLS:
        kwargs[f] = syms.get(symbol(f), "n") in ("y", "m")
    for f in KernelConfig.INTS:
        raw = syms.get(symbol(f))
        if raw is None or raw == "n":
            continue
        try:
            kwargs[f] = int(raw.strip('"'), 0)
        except ValueError:
            raise MachineConfigError(f"kconfig: CONFIG_{symbol(f)}",
                                     f"expected an integer, got {raw!r}") from None
    if keep_extra:
        known = {symbol(f) for f in (*KernelConfig.BOOLS, *KernelConfig.INTS)}
        kwargs["extra"] = {k: v for k, v in syms.items() if k not in known}
    return KernelConfig(**kwargs)  # type: ignore[arg-type]


def load_kconfig(path: str | PathLike[str], *, keep_extra: bool = False) -> KernelConfig:
    """:func:`parse_kconfig` on a file."""
    return parse_kconfig(Path(path).read_text(errors="replace"), keep_extra=keep_extra)


def kconfig_arch(text: str) -> str | None:
    """The architecture a ``.config`` is for: ``um`` (CONFIG_UML), ``x86_64``, or None."""
    syms = parse_symbols(text)
    if syms.get("UML") == "y":
        return "um"
    if syms.get("X86_64") == "y":
        return "x86_64"
    return None
