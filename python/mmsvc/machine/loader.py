"""Load and dump machine descriptions: TOML and JSON in, JSON (and simple TOML) out.

Extras over :meth:`MachineDescription.from_dict`: ``kconfig = {path = "my.config"}``
reads a ``.config`` (relative paths are resolved against the description file), and
``kernel = {system_map = "System.map", release = "..."}`` reads a System.map, and
``kernel = {vmlinux = "vmlinux", release = "..."}`` the symbol table of a vmlinux.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from mmsvc.errors import MachineConfigError
from mmsvc.machine.description import MachineDescription


def _resolve_files(data: Any, base: Path | None) -> Any:
    if not isinstance(data, Mapping):
        return data
    data = dict(data)
    cfg = data.get("kconfig")
    if isinstance(cfg, Mapping) and "path" in cfg:
        from mmsvc.machine.kconfig import load_kconfig

        if set(cfg) != {"path"}:
            raise MachineConfigError("kconfig.path", "a kconfig file cannot be combined "
                                                     "with other kconfig keys")
        path = Path(cfg["path"])
        if base is not None and not path.is_absolute():
            path = base / path
        if not path.exists():
            raise MachineConfigError("kconfig.path", f"no such file: {path}")
        data["kconfig"] = load_kconfig(path).to_dict()
    kern = data.get("kernel")
    for key in ("system_map", "vmlinux"):
        if isinstance(kern, Mapping) and key in kern:
            from mmsvc.machine.kernels import image_from_system_map, image_from_vmlinux

            reader = image_from_system_map if key == "system_map" else image_from_vmlinux
            extra = set(kern) - {key, "release", "load_address"}
            if extra:
                raise MachineConfigError(f"kernel.{sorted(extra)[0]}",
                                         f"not allowed together with {key}")
            path = Path(kern[key])
            if base is not None and not path.is_absolute():
                path = base / path
            if not path.exists():
                raise MachineConfigError(f"kernel.{key}", f"no such file: {path}")
            img = reader(path, str(kern.get("release", "")), str(data.get("arch", "x86_64")),
                         load_address=kern.get("load_address"))
            data["kernel"] = img.to_dict()
            break
    return data


def from_dict(data: Mapping[str, Any], base: Path | None = None) -> MachineDescription:
    return MachineDescription.from_dict(_resolve_files(data, base))


def loads_toml(text: str, base: Path | None = None) -> MachineDescription:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MachineConfigError("<toml>", str(e)) from None
    return from_dict(data, base)


def loads_json(text: str, base: Path | None = None) -> MachineDescription:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise MachineConfigError("<json>", str(e)) from None
    return from_dict(data, base)


def load(path: str | PathLike[str]) -> MachineDescription:
    """Load a ``.toml`` or ``.json`` description (chosen by suffix; else sniffed)."""
    p = Path(path)
    text = p.read_text()
    if p.suffix.lower() == ".json" or (p.suffix.lower() != ".toml"
                                       and text.lstrip().startswith("{")):
        return loads_json(text, p.parent)
    return loads_toml(text, p.parent)


def dumps_json(desc: MachineDescription, indent: int | None = 2) -> str:
    return json.dumps(desc.to_dict(), indent=indent)


def dump_json(desc: MachineDescription, path: str | PathLike[str]) -> None:
    Path(path).write_text(dumps_json(desc) + "\n")


def _toml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        if v >= 1 << 63:
            # past TOML's signed 64-bit integers (an EFI RUNTIME attribute):
            # a string, which the description reads as a number too
            return f'"{v:#x}"'
        return f"{v:#x}" if v >= 0x10000 else str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_scalar(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_scalar(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def dumps_toml(desc: MachineDescription) -> str:
    """A TOML form of :meth:`MachineDescription.to_dict` (top-level scalars, then one
    table per section; lists of tables written as arrays of inline tables)."""
    d = desc.to_dict()
    lines = [f"{_key(k)} = {_toml_scalar(v)}" for k, v in d.items()
             if not isinstance(v, Mapping) and not (isinstance(v, list) and v
                                                     and isinstance(v[0], Mapping))]
    for k, v in d.items():
        if isinstance(v, list) and v and isinstance(v[0], Mapping):
            lines.append(f"{_key(k)} = [")
            lines.extend(f"  {_toml_scalar(x)}," for x in v)
            lines.append("]")
    for k, v in d.items():
        if isinstance(v, Mapping):
            lines.append("")
            lines.append(f"[{_key(k)}]")
            for kk, vv in v.items():
                if isinstance(vv, list) and vv and isinstance(vv[0], Mapping):
                    lines.append(f"{_key(kk)} = [")
                    lines.extend(f"  {_toml_scalar(x)}," for x in vv)
                    lines.append("]")
                else:
                    lines.append(f"{_key(kk)} = {_toml_scalar(vv)}")
    return "\n".join(lines) + "\n"
