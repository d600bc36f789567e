"""The public hook API of mmsvc (pluggy project name ``"mmsvc"``).

A plugin is a module or object with functions decorated by
:data:`mmsvc.hookimpl`, published through the ``mmsvc`` entry-point group::

    [project.entry-points.mmsvc]
    riscv64 = "mmsvc_riscv64"

Hooks fall into four families:

* **registration** hooks receive a ``register`` callback (the llm style):
  :func:`mmsvc_register_architectures`, :func:`mmsvc_register_commands`;
* **architecture steps**: :func:`mmsvc_arch_step` is ``firstresult``: the
  plugin that owns the simulation's architecture runs an arch-specific boot
  step (``mem_init``, ``init_espfix_bsp``, ...) and returns ``True``;
* **step observers**: :func:`mmsvc_before_step`, :func:`mmsvc_after_step` and
  the wrapper :func:`mmsvc_step_wrapper` around every step and sub-step;
* **allocator events** for debug features (kfence, kmemleak, page_owner ...):
  :func:`mmsvc_page_event`, :func:`mmsvc_slab_event`,
  :func:`mmsvc_vmalloc_event`. The core records events only while at least one
  plugin implements one of these hooks, so they cost nothing otherwise.

See ``docs/plugins.md`` for a complete guide with a worked architecture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Generator

    import click

    from mmsvc.boot.context import BootContext
    from mmsvc.boot.steps import Step
    from mmsvc.events import PageEvent, SlabEvent, VmallocEvent
    from mmsvc.machine.description import MachineDescription

PROJECT_NAME = "mmsvc"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def mmsvc_register_architectures(register: Callable[[Any], None]) -> None:
    """Register architectures.

    Call ``register(arch)`` once per architecture, where ``arch`` is an
    :class:`mmsvc.arch.Architecture`. Two plugins registering the same
    architecture name is an error (:class:`mmsvc.errors.PluginError`).
    """


@hookspec(firstresult=True)
def mmsvc_arch_step(ctx: BootContext, step: Step) -> bool | None:
    """Run an architecture-specific step or sub-step.

    Called for every step whose ``kind`` is ``"arch"``. The plugin owning
    ``ctx.arch.name`` does the work on ``ctx`` and returns ``True``; every
    other plugin returns ``None``. When no plugin answers, the step is
    recorded as skipped (the kernel compiles such calls to nothing on
    architectures that lack them).
    """


@hookspec
def mmsvc_arch_steps(ctx: BootContext, phase: str) -> list[Step] | None:
    """Contribute the architecture's sub-steps of a phase.

    ``phase`` is ``"setup_arch"`` or the name of an arch-specific ``mm_init``
    step with sub-steps (``"mem_init"``). Return the list of
    :class:`mmsvc.boot.steps.Step` (each of kind ``"arch"``) or ``None``.
    Only the plugin owning ``ctx.arch.name`` should answer.
    """


@hookspec
def mmsvc_before_step(ctx: BootContext, step: Step) -> None:
    """Called before every step and sub-step runs."""


@hookspec
def mmsvc_after_step(ctx: BootContext, step: Step) -> None:
    """Called after every step and sub-step has run (not when it raised)."""


@hookspec
def mmsvc_step_wrapper(ctx: BootContext, step: Step) -> Generator[None, Any, Any]:
    """A pytest-style wrapper around the execution of every step.

    Implement with ``@hookimpl(wrapper=True)`` and ``yield`` once; the
    ``yield`` returns the step's result or raises its exception.
    """
    yield  # pragma: no cover


@hookspec
def mmsvc_page_event(ctx: BootContext, event: PageEvent) -> None:
    """A buddy-allocator page allocation or free happened."""


@hookspec
def mmsvc_slab_event(ctx: BootContext, event: SlabEvent) -> None:
    """A slab object allocation or free happened."""


@hookspec
def mmsvc_vmalloc_event(ctx: BootContext, event: VmallocEvent) -> None:
    """A vmalloc area was allocated or freed."""


@hookspec
def mmsvc_adjust_machine(machine: MachineDescription) -> MachineDescription | None:
    """Return a modified machine description before the boot starts, or None."""


@hookspec
def mmsvc_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``mmsvc`` command line (``cli.command()``)."""
