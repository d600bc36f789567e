"""Plugin discovery, filtering, listing and failure reporting."""

from __future__ import annotations

import sys
import textwrap

import pytest

from mmsvc import hookimpl
from mmsvc.arch import Architecture, collect_architectures
from mmsvc.cli import arch_default_machine
from mmsvc.errors import InvalidArgumentError, PluginError
from mmsvc.plugins import PluginFilter, PluginManager, plugin_manager


class OneArch:
    def __init__(self, name: str) -> None:
        self.arch = Architecture(name=name)

    @hookimpl
    def mmsvc_register_architectures(self, register):
        register(self.arch)


class Raiser:
    @hookimpl
    def mmsvc_register_architectures(self, register):
        raise RuntimeError("boom")


def test_builtin_architectures_are_installed_plugins():
    pm = plugin_manager()
    infos = {i.name: i for i in pm.infos()}
    for name, dist in (("x86_64", "mmsvc-x86_64"), ("uml", "mmsvc-uml")):
        assert infos[name].error is None, infos[name].error
        assert infos[name].distribution == dist
        assert infos[name].version == "0.1.0"
        assert "mmsvc_register_architectures" in infos[name].hooks
    arches = collect_architectures(pm)
    assert {"x86_64", "um"} <= set(arches.names())
    assert arches.get("x86_64").plugin == "x86_64"


def test_two_plugins_claiming_one_architecture():
    pm = plugin_manager([("a", OneArch("toy")), ("b", OneArch("toy"))],
                        load_entry_points=False)
    with pytest.raises(PluginError, match="'toy' is registered twice") as err:
        collect_architectures(pm)
    assert err.value.hook == "mmsvc_register_architectures"
    assert "'a'" in str(err.value) and "'b'" in str(err.value)


def test_raising_plugin_is_named():
    pm = plugin_manager([("bad", Raiser())], load_entry_points=False)
    with pytest.raises(PluginError, match="plugin 'bad' raised in hook") as err:
        collect_architectures(pm)
    assert err.value.plugin == "bad"


@pytest.mark.parametrize("name", ["x86_64", "um"])
def test_builtin_plugins_offer_a_default_machine(name):
    desc = arch_default_machine(name)
    assert desc.arch == name
    assert desc.memblock_memory(), "the built-in machine has memory"


def test_plugin_without_a_default_machine_is_a_clear_error():
    pm = plugin_manager([("a", OneArch("toy"))], load_entry_points=False)
    with pytest.raises(InvalidArgumentError,
                       match="plugin 'a' offers no built-in machine for 'toy'"):
        arch_default_machine("toy", pm)


def test_unknown_architecture_lists_known():
    pm = plugin_manager([("a", OneArch("toy"))], load_entry_points=False)
    with pytest.raises(PluginError, match="no plugin provides architecture 'mips'.*toy"):
        collect_architectures(pm).get("mips")


def test_filter_from_environment():
    f = PluginFilter.from_env({"MMSVC_LOAD_PLUGINS": "uml", "MMSVC_DISABLED_PLUGINS": ""})
    assert f.allows("uml") and not f.allows("x86_64")
    f = PluginFilter.from_env({"MMSVC_DISABLED_PLUGINS": "x86_64"})
    assert f.allows("uml") and not f.allows("x86_64")
    assert not PluginFilter.from_env({"MMSVC_DISABLE_PLUGIN_AUTOLOAD": "1"}).allows("uml")
    assert not PluginFilter.from_env({"MMSVC_LOAD_PLUGINS": ""}).allows("uml")


def test_only_listed_plugins_load(monkeypatch):
    monkeypatch.setenv("MMSVC_LOAD_PLUGINS", "uml")
    pm = plugin_manager()
    assert pm.get_plugin("uml") is not None
    assert pm.get_plugin("x86_64") is None


def test_broken_entry_point_is_reported_and_others_load(tmp_path, monkeypatch):
    dist = tmp_path / "mmsvc_broken-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mmsvc-broken\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""
        [mmsvc]
        broken = mmsvc_broken_missing_module
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    pm.load_entry_points(PluginFilter())
    infos = {i.name: i for i in pm.infos()}
    assert infos["broken"].error.startswith("ModuleNotFoundError")
    assert infos["broken"].version == "1.2.3"
    assert infos["uml"].error is None
    assert "mmsvc_broken_missing_module" not in sys.modules


def test_uml_brk_growth_keeps_that_much_memory_from_mem_init():
    import dataclasses

    from mmsvc.simulation import Simulation

    machine = arch_default_machine("um")
    totals = []
    for growth in (0, 1 << 20):
        sim = Simulation(machine.replace(
            firmware=dataclasses.replace(machine.firmware, brk_growth=growth)))
        sim.boot()
        totals.append(sim.mm.counters()["totalram_pages"])
    assert totals[0] - totals[1] == (1 << 20) // 4096
