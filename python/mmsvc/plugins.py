"""Finding, loading and listing plugins.

Plugins are found through the ``mmsvc`` entry-point group. The environment
controls which are loaded, as pytest, tox, datasette and llm do:

``MMSVC_LOAD_PLUGINS``
    comma-separated entry-point names: load only these (empty: load none).
``MMSVC_DISABLE_PLUGIN_AUTOLOAD``
    any non-empty value: load no entry points at all (explicit plugins only).
``MMSVC_DISABLED_PLUGINS``
    comma-separated entry-point names never to load.

A plugin that fails to import is not fatal: it is recorded in
:attr:`PluginManager.failures` (shown by ``mmsvc plugins``) and the others load.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from mmsvc import hookspecs
from mmsvc.errors import PluginError

ENTRY_POINT_GROUP = "mmsvc"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded (or failed) plugin, as ``mmsvc plugins`` lists it."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class PluginFilter:
    """Which entry points to load, read from the environment by default."""

    only: frozenset[str] | None = None
    disabled: frozenset[str] = frozenset()
    autoload: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> PluginFilter:
        env = dict(os.environ if env is None else env)

        def names(var: str) -> frozenset[str]:
            return frozenset(n.strip() for n in env.get(var, "").split(",") if n.strip())

        only = names("MMSVC_LOAD_PLUGINS") if "MMSVC_LOAD_PLUGINS" in env else None
        return cls(
            only=only,
            disabled=names("MMSVC_DISABLED_PLUGINS"),
            autoload=not env.get("MMSVC_DISABLE_PLUGIN_AUTOLOAD"),
        )

    def allows(self, name: str) -> bool:
        if not self.autoload or name in self.disabled:
            return False
        return self.only is None or name in self.only


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with mmsvc's hookspecs, entry-point loading and errors."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.failures: dict[str, str] = {}
        self._dists: dict[str, tuple[str | None, str | None]] = {}

    def load_entry_points(self, plugin_filter: PluginFilter | None = None) -> None:
        """Load every allowed plugin of the ``mmsvc`` entry-point group."""
        plugin_filter = plugin_filter or PluginFilter.from_env()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if not plugin_filter.allows(ep.name) or self.get_plugin(ep.name) is not None:
                continue
            dist = (ep.dist.name, ep.dist.version) if ep.dist else (None, None)
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the rest
                self.failures[ep.name] = f"{type(exc).__name__}: {exc}"
                self._dists[ep.name] = dist
                continue
            self._dists[ep.name] = dist

    def register_plugins(self, plugins: Iterable[tuple[str, Any]]) -> None:
        """Register plugin objects given in code (tests, embedding)."""
        for name, plugin in plugins:
            self.register(plugin, name=name)

    def infos(self) -> list[PluginInfo]:
        """Every loaded plugin and every failure, sorted by name."""
        out = []
        for name, plugin in self.list_name_plugin():
            dist, version = self._dists.get(name, (None, None))
            hooks = tuple(sorted(h.name for h in self.get_hookcallers(plugin) or ()))
            out.append(PluginInfo(name, dist, version, hooks))
        for name, err in self.failures.items():
            dist, version = self._dists.get(name, (None, None))
            out.append(PluginInfo(name, dist, version, (), error=err))
        return sorted(out, key=lambda i: i.name)

    def call_guarded(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a hook; an exception from a plugin becomes a PluginError naming it."""
        caller = getattr(self.hook, hook_name)
        try:
            return caller(**kwargs)
        except PluginError:
            raise
        except Exception as exc:
            plugin = self._culprit(hook_name, exc)
            raise PluginError(
                f"plugin {plugin!r} raised in hook {hook_name}: {type(exc).__name__}: {exc}",
                plugin=plugin,
                hook=hook_name,
            ) from exc

    def _culprit(self, hook_name: str, exc: BaseException) -> str:
        """Name the plugin whose hook implementation raised ``exc``."""
        impls = getattr(self.hook, hook_name).get_hookimpls()
        by_module = {}
        for impl in impls:
            code = getattr(impl.function, "__code__", None)
            if code is not None:
                by_module[code.co_filename] = impl.plugin_name
        tb = exc.__traceback__
        culprit = None
        while tb is not None:
            name = by_module.get(tb.tb_frame.f_code.co_filename)
            if name is not None:
                culprit = name
            tb = tb.tb_next
        return culprit or "unknown"


def plugin_manager(
    plugins: Iterable[tuple[str, Any]] = (),
    *,
    plugin_filter: PluginFilter | None = None,
    load_entry_points: bool = True,
) -> PluginManager:
    """A manager with the installed plugins (filtered by the environment) and ``plugins``."""
    pm = PluginManager()
    if load_entry_points:
        pm.load_entry_points(plugin_filter)
    pm.register_plugins(plugins)
    return pm
