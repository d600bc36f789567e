"""The exception hierarchy of mmsvc.

Every error mmsvc raises on purpose derives from :class:`MmsvcError`. The Rust
core's errors (``MmError`` in ``rust_core/src/error.rs``) are mapped onto these
classes once, in the binding crate, by their kind; Python-side layers (machine
descriptions, the boot sequence, plugins, the gRPC service) raise the same
classes or subclasses of them, so a caller can catch one family whatever layer
failed.
"""

from __future__ import annotations


class MmsvcError(Exception):
    """Base class of every mmsvc error."""


class InvalidArgumentError(MmsvcError, ValueError):
    """A malformed argument: zero size, bad alignment, unknown name, ..."""


class OutOfRangeError(MmsvcError, IndexError):
    """An address, pfn, node or zone outside what the simulated machine has."""


class FreeError(MmsvcError):
    """A free (of pages, objects or mappings) that the state forbids."""


class DoubleFreeError(FreeError):
    """Freeing something that is already free."""


class NotAllocatedError(FreeError):
    """Freeing or touching something that was never handed out."""


class WrongOrderError(FreeError):
    """Freeing with another order, size or cache than the allocation had."""


class OutOfMemoryError(MmsvcError, MemoryError):
    """No memory of the simulated machine could satisfy the request."""


class CapacityExceededError(MmsvcError):
    """A fixed-size table of the simulation (such as memblock's regions) is full."""


class InvalidStateError(MmsvcError):
    """The object is in a state that forbids the operation."""


class InternalError(MmsvcError):
    """A bug in mmsvc itself (for example a Rust panic caught at the boundary)."""


class MachineConfigError(InvalidArgumentError):
    """A machine description (TOML, JSON, dmesg log) is malformed.

    ``field`` names the offending field, for example ``"e820[3].size"``.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PluginError(MmsvcError):
    """A plugin failed, or two plugins conflict.

    ``plugin`` and ``hook`` name the culprit when known.
    """

    def __init__(self, message: str, *, plugin: str | None = None, hook: str | None = None):
        super().__init__(message)
        self.plugin = plugin
        self.hook = hook


__all__ = [
    "MmsvcError",
    "InvalidArgumentError",
    "OutOfRangeError",
    "FreeError",
    "DoubleFreeError",
    "NotAllocatedError",
    "WrongOrderError",
    "OutOfMemoryError",
    "CapacityExceededError",
    "InvalidStateError",
    "InternalError",
    "MachineConfigError",
    "PluginError",
]
