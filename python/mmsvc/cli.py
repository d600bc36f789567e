"""The ``mmsvc`` command line.

``mmsvc boot`` prints the simulated kernel log of a machine's boot; the /proc
commands print the machine after boot; ``mmsvc step`` walks the boot one
step at a time; ``mmsvc verify`` compares a simulation with a real log;
``mmsvc plugins`` lists plugins; ``mmsvc bench`` measures the allocators.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from mmsvc.errors import MmsvcError
from mmsvc.machine.description import PROFILES
from mmsvc.views import VIEWS


def machine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that boots a machine takes."""

    @click.option("--machine", "machine_file", type=click.Path(exists=True, dir_okay=False),
                  help="Machine description (TOML or JSON).")
    @click.option("--from-dmesg", "dmesg", type=click.Path(exists=True, dir_okay=False),
                  help="Describe the machine from a real boot log.")
    @click.option("--profile", type=click.Choice(PROFILES),
                  help="Kernel behaviour to simulate (default: the machine's, else 5.14).")
    @click.option("--cmdline", default=None,
                  help="Kernel command line (replaces the machine's).")
    @click.option("--arch", "arch", default=None,
                  help="Boot this architecture's built-in machine (see `mmsvc plugins`).")
    @click.option("--efi-from", "efi_from", type=click.Path(exists=True, dir_okay=False),
                  help="With --from-dmesg: another log of the same UEFI machine, booted "
                       "with efi=debug, whose EFI memory map completes the first.")
    @functools.wraps(fn)
    def wrapper(*args: Any, machine_file: str | None, dmesg: str | None,
                profile: str | None, cmdline: str | None, arch: str | None,
                efi_from: str | None, **kwargs: Any) -> Any:
        if sum(x is not None for x in (machine_file, dmesg, arch)) > 1:
            raise click.UsageError("give one of --machine, --from-dmesg and --arch")
        if efi_from is not None and dmesg is None:
            raise click.UsageError("--efi-from completes a --from-dmesg log")
        machine = load(machine_file, dmesg, profile, cmdline, arch, efi_from)
        return fn(*args, machine=machine, **kwargs)

    return wrapper


def load(machine_file: str | None, dmesg: str | None, profile: str | None,
         cmdline: str | None, arch: str | None = None, efi_from: str | None = None) -> Any:
    from mmsvc import machine as m

    if dmesg:
        notes: list[str] = []
        desc = m.from_dmesg(dmesg, warnings=notes, efi_from=efi_from)
        for note in notes:
            click.echo(f"mmsvc: note: {note}", err=True)
    elif machine_file:
        desc = m.load(machine_file)
    elif arch:
        desc = arch_default_machine(arch)
    else:
        desc = m.default_machine()
    changes: dict[str, Any] = {}
    if profile:
        changes["profile"] = profile
    if cmdline is not None:
        changes["cmdline"] = cmdline
    return desc.replace(**changes) if changes else desc


def arch_default_machine(name: str, pm: Any = None) -> Any:
    """The built-in machine an architecture plugin offers (plugins of ``pm``,
    by default the installed ones)."""
    from mmsvc.arch import collect_architectures
    from mmsvc.errors import InvalidArgumentError
    from mmsvc.plugins import plugin_manager

    arch = collect_architectures(pm if pm is not None else plugin_manager()).get(name)
    if arch.default_machine is None:
        raise InvalidArgumentError(f"arch: plugin {arch.plugin!r} offers no built-in machine "
                                   f"for {name!r}; give --machine")
    return arch.default_machine()


def booted(machine: Any) -> Any:
    """Boot ``machine``; on a terminal, show the steps going by on stderr."""
    from mmsvc.simulation import Simulation

    sim = Simulation(machine)
    if not sys.stderr.isatty():
        sim.boot()
        return sim
    total = sum(len(top.leaves()) for top in sim.steps)
    with click.progressbar(length=total, label="booting", file=sys.stderr,
                           item_show_func=lambda s: s) as bar:
        while not sim.done:
            bar.update(1, sim.next_step.path if sim.next_step else "")
            sim.step("substep")
    return sim


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn mmsvc errors into a one-line message and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MmsvcError as exc:
            click.echo(f"mmsvc: error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group()
@click.version_option(package_name="mmsvc")
def cli() -> None:
    """Simulate the Linux kernel's memory-management boot."""


@cli.command()
@handle_errors
@machine_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead.")
@click.option("--all-levels", is_flag=True, help="Include KERN_DEBUG lines.")
def boot(machine: Any, as_json: bool, all_levels: bool) -> None:
    """Boot a machine and print the simulated kernel log."""
    sim = booted(machine)
    if as_json:
        from mmsvc.summary import summary

        click.echo(json.dumps(summary(sim), indent=2))
    else:
        click.echo(sim.log.text(all_levels=all_levels), nl=False)


def _proc_command(name: str, doc: str) -> None:
    @cli.command(name=name, help=doc)
    @handle_errors
    @machine_options
    def command(machine: Any) -> None:
        from mmsvc import views

        sim = booted(machine)
        click.echo(views.render(sim, name), nl=False)


for _name in VIEWS:
    _proc_command(_name, f"Print /proc/{_name} of the machine after boot.")


@cli.command()
@handle_errors
@machine_options
@click.option("--substeps/--steps", default=True, help="Stop at every sub-step (default).")
def step(machine: Any, substeps: bool) -> None:
    """Run the boot one step at a time: Enter steps, 'c' continues, 'q' quits."""
    from mmsvc.simulation import Simulation

    sim = Simulation(machine)
    seen = 0
    gran = "substep" if substeps else "step"
    while not sim.done:
        nxt = sim.next_step
        click.echo(click.style(f"next: {nxt.path}", bold=True) + f"  ({nxt.doc})")
        answer = click.prompt("[enter] step, c continue, q quit", default="",
                              show_default=False).strip().lower()
        if answer == "q":
            break
        if answer == "c":
            sim.boot()
        else:
            sim.step(gran)
        for rec in sim.log.since(seen):
            if sim.log.visible(rec):
                click.echo(f"  {rec.text}")
        seen = len(sim.log)
    if sim.done:
        click.echo("boot complete")


@cli.command()
@click.argument("log", type=click.Path(exists=True, dir_okay=False))
@click.option("--profile", type=click.Choice(PROFILES), default="6.1", show_default=True)
@click.option("--efi-from", "efi_from", type=click.Path(exists=True, dir_okay=False),
              help="Another log of the same UEFI machine, booted with efi=debug: its EFI "
                   "memory map (and memblock=debug's facts) complete LOG's.")
@handle_errors
def verify(log: str, profile: str, efi_from: str | None) -> None:
    """Boot the machine a real LOG describes and compare the memory lines."""
    from mmsvc.verify import verify_log

    report = verify_log(log, profile, efi_from)
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)


@cli.command()
@handle_errors
def plugins() -> None:
    """List the installed plugins, their versions and hooks."""
    from mmsvc.arch import collect_architectures
    from mmsvc.plugins import plugin_manager

    pm = plugin_manager()
    arches = collect_architectures(pm)
    for info in pm.infos():
        version = info.version or "-"
        dist = info.distribution or "(in-process)"
        if info.error:
            click.echo(f"{info.name:<12} {dist} {version}  FAILED TO LOAD: {info.error}")
            continue
        mine = [a for a in arches.names() if arches.get(a).plugin == info.name]
        extra = f"  architectures: {', '.join(mine)}" if mine else ""
        click.echo(f"{info.name:<12} {dist} {version}{extra}")
        click.echo(f"{'':<12} hooks: {', '.join(info.hooks)}")


@cli.command()
@click.option("--quick", is_flag=True, help="Smaller counts (a smoke run).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--no-scale", is_flag=True, help="Skip the 32 TiB boot.")
@click.option("--no-service", is_flag=True, help="Skip the gRPC service figures.")
@handle_errors
def bench(quick: bool, as_json: bool, no_scale: bool, no_service: bool) -> None:
    """Measure the allocators, the scale and the service against baselines."""
    from mmsvc.bench.run import run

    report = run(quick=quick, scale=not no_scale, service=not no_service)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)


# -- gRPC: `mmsvc serve` and `--remote ADDR` (python/mmsvc/server, python/mmsvc/client.py) --


@cli.command()
@click.option("--listen", default="127.0.0.1:50051", show_default=True,
              help="Address to listen on (host:port; port 0 picks one).")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None,
              help="Keep every simulation here (atomic snapshots) and reload them on start.")
@click.option("--max-simulations", type=click.IntRange(min=1), default=16, show_default=True,
              help="Simulations alive at once.")
@click.option("--max-ram-per-simulation", type=click.IntRange(min=1), default=None,
              help="Simulated RAM of one simulation, bytes (default 64 GiB).")
@click.option("--max-total-ram", type=click.IntRange(min=1), default=None,
              help="Simulated RAM of all simulations, bytes (default 256 GiB).")
@click.option("--token", envvar="MMSVC_SERVER_TOKEN", default=None,
              help="Require 'authorization: Bearer TOKEN' (or set MMSVC_SERVER_TOKEN).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TLS certificate chain (PEM); needs --tls-key.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TLS private key (PEM).")
def serve(listen: str, state_dir: str | None, max_simulations: int,
          max_ram_per_simulation: int | None, max_total_ram: int | None,
          token: str | None, tls_cert: str | None, tls_key: str | None) -> None:
    """Run the gRPC server (docs/grpc.md)."""
    import dataclasses

    from mmsvc.server import Limits
    from mmsvc.server import serve as run_server

    changes: dict[str, int] = {"max_simulations": max_simulations}
    if max_ram_per_simulation:
        changes["max_ram_per_simulation"] = max_ram_per_simulation
    if max_total_ram:
        changes["max_total_ram"] = max_total_ram
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("give --tls-cert and --tls-key together")
    from pathlib import Path

    tls = (Path(tls_cert).read_bytes(), Path(tls_key).read_bytes()) if tls_cert and tls_key \
        else None
    run_server(listen, limits=dataclasses.replace(Limits(), **changes), state_dir=state_dir,
               token=token, tls=tls)


def _remote_run(remote: str, token: str | None, command: str, machine: Any,
                kwargs: dict[str, Any], tls_ca: str | None = None) -> None:
    """Run a machine command on a server: create, boot, print, delete."""
    from pathlib import Path

    from mmsvc.client import Client
    from mmsvc.machine import dumps_json
    from mmsvc.v1 import simulation_service_pb2 as pb

    if kwargs.get("as_json"):
        raise click.UsageError("--json is not available with --remote")
    ca = Path(tls_ca).read_bytes() if tls_ca else None
    with Client(remote, token=token, root_certificates=ca) as client:
        sim = client.create(json=dumps_json(machine))
        try:
            if command == "step":
                _remote_step(client, sim.simulation_id, kwargs.get("substeps", True))
                return
            client.boot(sim.simulation_id)
            if command == "boot":
                all_levels = kwargs.get("all_levels", False)
                for ev in client.events(sim.simulation_id, kinds=[pb.EVENT_KIND_LOG]):
                    if all_levels or ev.log.visible:
                        click.echo(ev.log.text)
            else:
                click.echo(client.proc(sim.simulation_id, command), nl=False)
        finally:
            client.delete(sim.simulation_id)


def _remote_step(client: Any, sid: str, substeps: bool) -> None:
    """``mmsvc step`` against a server: the same prompt, the server's log."""
    from mmsvc.v1 import simulation_service_pb2 as pb

    seen = 0
    while True:
        nxt = client.get(sid).next_step
        if not nxt:
            click.echo("boot complete")
            return
        click.echo(click.style(f"next: {nxt}", bold=True))
        answer = click.prompt("[enter] step, c continue, q quit", default="",
                              show_default=False).strip().lower()
        if answer == "q":
            return
        if answer == "c":
            client.boot(sid)
        else:
            client.step(sid, "substep" if substeps else "step")
        for ev in client.events(sid, from_seq=seen, kinds=[pb.EVENT_KIND_LOG]):
            seen = ev.seq + 1
            if ev.log.visible:
                click.echo(f"  {ev.log.text}")


def _add_remote_option(name: str) -> None:
    """Give an existing machine command a ``--remote ADDR`` option."""
    cmd = cli.commands.get(name)
    if cmd is None or cmd.callback is None:
        return
    cmd.params.append(click.Option(["--remote"], metavar="ADDR", default=None,
                                   help="Run on an mmsvc server (mmsvc serve) at ADDR."))
    cmd.params.append(click.Option(["--remote-token"], envvar="MMSVC_TOKEN", default=None,
                                   help="Bearer token for --remote (or MMSVC_TOKEN)."))
    cmd.params.append(click.Option(["--remote-tls-ca"], default=None,
                                   type=click.Path(exists=True, dir_okay=False),
                                   help="Talk TLS to --remote, trusting this CA (PEM)."))
    local = cmd.callback

    @functools.wraps(local)
    def callback(*args: Any, remote: str | None = None, remote_token: str | None = None,
                 remote_tls_ca: str | None = None, **kwargs: Any) -> Any:
        if remote is None:
            return local(*args, **kwargs)
        try:
            machine = load(kwargs.pop("machine_file"), kwargs.pop("dmesg"),
                           kwargs.pop("profile"), kwargs.pop("cmdline"), kwargs.pop("arch"),
                           kwargs.pop("efi_from"))
            return _remote_run(remote, remote_token, name, machine, kwargs, remote_tls_ca)
        except MmsvcError as exc:
            click.echo(f"mmsvc: error: {exc}", err=True)
            sys.exit(2)

    cmd.callback = callback


for _name in ("boot", "step", *VIEWS):
    _add_remote_option(_name)


def main() -> None:
    from mmsvc.plugins import plugin_manager

    try:
        pm = plugin_manager()
        pm.hook.mmsvc_register_commands(cli=cli)
    except MmsvcError as exc:  # a broken plugin must not take the CLI down
        click.echo(f"mmsvc: warning: {exc}", err=True)
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
