"""Kernel command line: splitting, memparse, mem=/memmap=, other memory options, errors."""

from __future__ import annotations

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import e820
from mmsvc.machine.cmdline import parse_cmdline, parse_memmap_item, split_args
from mmsvc.machine.e820 import E820Entry as E
from mmsvc.machine.units import kernel_strtoull, kstrtobool, memparse, parse_size

from .conftest import boot_default

QEMU_1G = (E(0, 0x9FC00, 1), E(0x9FC00, 0x400, 2), E(0xF0000, 0x10000, 2),
           E(0x100000, 0x3FEE0000, 1), E(0x3FFE0000, 0x20000, 2), E(0xFFFC0000, 0x40000, 2),
           E(0xFD00000000, 0x300000000, 2))


@pytest.mark.parametrize("text,value,end", [
    ("128M", 128 << 20, 4), ("0x10000000", 0x10000000, 10), ("1k", 1024, 2),
    ("2G", 2 << 30, 2), ("1T", 1 << 40, 2), ("1P", 1 << 50, 2), ("1E", 1 << 60, 2),
    ("010", 8, 3), ("0x", 0, 1), ("abc", 0, 0), ("16E", 0, 3), ("12MB", 12 << 20, 3),
])
def test_memparse(text, value, end):
    assert memparse(text) == (value, end)


def test_strtoull_hex_needs_digit():
    assert kernel_strtoull("0xg") == (0, 1)
    assert kernel_strtoull("0XfF") == (255, 4)


@pytest.mark.parametrize("text,want", [("1", True), ("y", True), ("on", True), ("0", False),
                                       ("N", False), ("off", False), ("o", None), ("x", None),
                                       (None, None), ("", None)])
def test_kstrtobool(text, want):
    assert kstrtobool(text) is want


def test_split_quotes_and_dashes():
    params, init = split_args(' a=1  "b=x y" c="p q" d -- e f=2 ')
    assert params == [("a", "1"), ("b", "x y"), ("c", "p q"), ("d", None)]
    assert init == ["e", "f=2"]


def test_fixture_memmap_gives_logged_user_map():
    c = parse_cmdline("console=ttyS0 earlyprintk=serial panic=-1 nokaslr memmap=128M$0x10000000")
    user = e820.apply_user_map(QEMU_1G, c.mem_ops)
    assert e820.format_table(user, "user")[3:6] == [
        "user: [mem 0x0000000000100000-0x000000000fffffff] usable",
        "user: [mem 0x0000000010000000-0x0000000017ffffff] reserved",
        "user: [mem 0x0000000018000000-0x000000003ffdffff] usable",
    ]
    assert c.unknown == ("nokaslr",)


def test_mem_caps_physical_addresses():
    c = parse_cmdline("mem=1000M")
    user = e820.apply_user_map(QEMU_1G, c.mem_ops)
    ram = [x for x in user if x.type == 1]
    assert ram[-1].end == 1000 << 20
    assert e820.format_table(user, "user")[3] == \
        "user: [mem 0x0000000000100000-0x000000003e7fffff] usable"
    # reserved entries above the cap stay
    assert user[-1] == E(0xFD00000000, 0x300000000, 2)


def test_bare_memmap_works_like_mem():
    a = e820.apply_user_map(QEMU_1G, parse_cmdline("memmap=512M").mem_ops)
    b = e820.apply_user_map(QEMU_1G, parse_cmdline("mem=512M").mem_ops)
    assert a == b


def test_no_userdef_gives_none():
    assert e820.apply_user_map(QEMU_1G, parse_cmdline("console=ttyS0").mem_ops) is None


def test_memmap_exactmap_and_adds():
    c = parse_cmdline("memmap=exactmap,640K@0,1G@1M memmap=4K#0x100000 memmap=1M!4G")
    user = e820.apply_user_map(QEMU_1G, c.mem_ops)
    assert user == (E(0, 640 << 10, 1), E(0x100000, 0x1000, 3), E(0x101000, (1 << 30) - 0x1000, 1),
                    E(4 << 30, 1 << 20, 12))


def test_memmap_percent_forms():
    assert parse_memmap_item("1M%16M-1+2").kind == "update"
    assert parse_memmap_item("1M%16M+2") == parse_memmap_item("1M%16M+2")
    assert parse_memmap_item("1M%16M+2").kind == "add"
    rem = parse_memmap_item("1M%16M-1")
    assert (rem.kind, rem.from_type) == ("remove", 1)
    assert parse_memmap_item("1M%16M").from_type is None
    user = e820.apply_user_map(QEMU_1G, parse_cmdline("memmap=1M%16M-1+2").mem_ops)
    assert E(16 << 20, 1 << 20, 2) in user


@pytest.mark.parametrize("item", ["", "xyz", "1M@", "1M$0x100zz", "1M%16M-", "1M%16M-1+",
                                  "1M%16M-1+1", "1M?4", "12Mfoo"])
def test_memmap_malformed(item):
    with pytest.raises(MachineConfigError) as ei:
        parse_cmdline(f"memmap={item}")
    assert ei.value.field.startswith("cmdline: memmap=")


@pytest.mark.parametrize("line,field", [
    ("mem=0", "cmdline: mem=0"), ("mem=abc", "cmdline: mem=abc"), ("mem", "cmdline: mem"),
    ("init_on_alloc=maybe", "cmdline: init_on_alloc=maybe"),
    ("init_on_free", "cmdline: init_on_free"), ("page_poison=2", "cmdline: page_poison=2"),
    ("pti=maybe", "cmdline: pti=maybe"), ("memblock=foo", "cmdline: memblock=foo"),
    ("mitigations=some", "cmdline: mitigations=some"),
    ("crashkernel=512M-:x", "cmdline: crashkernel=512M-:x"),
    ("kernelcore=150%", "cmdline: kernelcore=150%"),
    ("movablecore=mirror", "cmdline: movablecore=mirror"), ("numa=of", "cmdline: numa=of"),
])
def test_malformed_known_options_name_the_option(line, field):
    with pytest.raises(MachineConfigError) as ei:
        parse_cmdline(line)
    assert ei.value.field == field


def test_memory_options():
    c = parse_cmdline("page_poison=1 init_on_alloc=0 init_on_free=on memblock=debug nopti "
                      "no5lvl nokaslr numa=off kernelcore=20% movablecore=1G "
                      "crashkernel=512M-2G:64M,2G-:128M@16M crashkernel=72M,low movable_node")
    assert (c.page_poison, c.init_on_alloc, c.init_on_free) == (True, False, True)
    assert c.memblock_debug and c.no5lvl and c.nokaslr and c.numa_off and c.movable_node
    assert c.pti == "off" and c.pti_forced_off
    assert c.kernelcore.percent == 20 and c.movablecore.bytes == 1 << 30
    assert c.crashkernel.ranges == ((512 << 20, 2 << 30, 64 << 20), (2 << 30, None, 128 << 20))
    assert c.crashkernel.offset == 16 << 20
    assert c.crashkernel.size_for(4 << 30) == 128 << 20
    assert c.crashkernel_low.size == 72 << 20 and c.crashkernel_low.low
    assert parse_cmdline("kernelcore=mirror").kernelcore.mirror
    assert parse_cmdline("pti=on nopti").pti == "on"
    assert parse_cmdline("mitigations=off").pti_forced_off
    assert parse_cmdline("crashkernel=256M,high").crashkernel.high


@pytest.mark.parametrize(("value", "why"), [
    ("auto", "memory value expected"), ("lots,high", "memory value expected"),
    ("64Mx", "unrecognized char: x"), ("", "memory value expected"),
])
def test_an_unreadable_crashkernel_size_is_warned_about_and_ignored(value, why):
    # as parse_crashkernel_simple/_suffix do (crashkernel=auto on 6.1 is a real boot)
    ck = parse_cmdline(f"crashkernel={value}").crashkernel
    assert ck.invalid == why and ck.size_for(4 << 30) == 0
    sim = boot_default(f"crashkernel={value}")
    assert f"crashkernel: {why}\n" in sim.log.text()
    assert "for crashkernel" not in sim.log.text()


def test_an_unreadable_low_size_takes_the_default():
    text = boot_default("crashkernel=512M,high crashkernel=zz,low").log.text()
    assert "crashkernel: memory value expected\n" in text
    assert "Reserving 256MB of low memory at" in text


def test_unknown_parameters_like_6_1():
    c = parse_cmdline("console=ttyS0 nokaslr foo=1 bar mod.param=3 foo=2 -- baz")
    assert c.unknown == ("nokaslr", "bar", "foo=2")
    assert c.unknown_line() == ('Unknown kernel command line parameters "nokaslr bar foo=2", '
                                "will be passed to user space.")
    assert parse_cmdline("console=ttyS0 rdinit=/init").unknown_line() is None
    # 5.14 printed the first wording, a space before each word
    assert c.unknown_line(profile="5.14") == "Unknown command line parameters: nokaslr bar foo=2"


def test_init_and_rdinit_drop_the_bare_words_before_them():
    # init_setup/rdinit_setup clear init's arguments so far: the real boots with
    # "... nokaslr rdinit=/init" print no unknown parameters, those without print
    # "nokaslr" (tests/realboots, shared/fixtures)
    c = parse_cmdline("console=ttyS0 nokaslr foo=1 bar rdinit=/init baz")
    assert c.unknown == ("baz", "foo=1")
    assert parse_cmdline("nokaslr init=/sbin/init").unknown == ()


def test_parameters_the_config_leaves_out_are_unknown():
    from mmsvc.machine.description import KernelConfig

    off = KernelConfig()
    on = KernelConfig(debug_pagealloc=True, page_owner=True, dma_cma=True)
    line = "debug_pagealloc=on page_owner=on cma=64M"
    assert parse_cmdline(line, "x86_64", off).unknown == (
        "debug_pagealloc=on", "page_owner=on", "cma=64M")
    assert parse_cmdline(line, "x86_64", on).unknown == ()
    # x86 reads pti= straight from the command line: no parameter claims it
    assert parse_cmdline("pti=on").unknown == ("pti=on",)


def test_options_read_straight_from_the_command_line_are_unknown():
    # x86 reads these with cmdline_find_option(): no handler claims them, so
    # 6.1 lists them (the real boot pc-2g-known-params), while the options
    # registered with early_param/__setup are known
    c = parse_cmdline("nopti nospectre_v2 spectre_v2=off tsx=off noxsave reservelow=64K "
                      "vmalloc=256M page_ext=on gbpages mitigations=off nosmt mds=off "
                      "nospectre_v1 memtest=1")
    assert c.unknown == ("nopti", "nospectre_v2", "noxsave", "spectre_v2=off", "tsx=off",
                         "reservelow=64K", "vmalloc=256M", "page_ext=on")
    assert c.pti == "off"  # read all the same
    # noexec= went with 5.19
    assert parse_cmdline("noexec=off", profile="5.14").unknown == ()
    assert parse_cmdline("noexec=off", profile="6.1").unknown == ("noexec=off",)
    assert parse_cmdline("noexec=off", profile="5.14").noexec
    assert not parse_cmdline("noexec=off", profile="6.1").noexec


def test_uml_mem_is_physmem_and_unknown():
    c = parse_cmdline("mem=32M con=null con0=fd:0,fd:1 root=/dev/nonexistent panic=-1 "
                      "console=tty0", "um")
    assert c.mem == 32 << 20 and c.mem_ops == ()
    assert c.unknown == ("mem=32M",)


def test_parse_size_strict():
    assert parse_size("128M", "f") == 128 << 20
    assert parse_size("0x1E", "f") == 0x1E
    assert parse_size(4096, "f") == 4096
    for bad in (True, 1.5, "-1", -5, "12 apples", None):
        with pytest.raises(MachineConfigError) as ei:
            parse_size(bad, "e820[3].size")
        assert ei.value.field == "e820[3].size"


def test_get_int_reads_numbers_as_the_kernel_does():
    c = parse_cmdline("maxcpus=2 nr_cpus=0x10 dhash_entries=12abc possible_cpus=x hashdist")
    assert (c.get_int("maxcpus"), c.get_int("nr_cpus"), c.get_int("dhash_entries")) == (2, 16, 12)
    # no number, a bare flag or no option at all: the default
    assert c.get_int("possible_cpus", 7) == 7 and c.get_int("hashdist") is None
    assert c.get_int("slub_min_order", 3) == 3
