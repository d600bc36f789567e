"""mmsvc: a simulator of the Linux kernel's memory-management boot.

The public API: :class:`Simulation` (a boot you can step, break and
inspect), :func:`load_machine` / :func:`default_machine` (machine
descriptions), :data:`hookimpl` (for plugins) and the exceptions of
:mod:`mmsvc.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmsvc.errors import MmsvcError
from mmsvc.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from mmsvc.simulation import Simulation

__all__ = ["MmsvcError", "Simulation", "hookimpl"]


def __getattr__(name: str) -> Any:
    # the simulation pulls in the Rust extension: import it on first use
    if name == "Simulation":
        from mmsvc.simulation import Simulation

        return Simulation
    raise AttributeError(f"module 'mmsvc' has no attribute {name!r}")
