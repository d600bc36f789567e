"""--state-dir keeps simulations across a restart; `mmsvc serve` and `--remote`;
the committed stubs are what the pinned grpcio-tools generates from the protos."""

from __future__ import annotations

import filecmp
import importlib.metadata as md
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmsvc.cli import cli
from mmsvc.client import Client
from mmsvc.server.testing import ServerThread
from mmsvc.v1 import simulation_service_pb2 as pb

REPO = Path(__file__).resolve().parents[1]


def test_restart_with_state_dir_keeps_simulations(tmp_path):
    with ServerThread(state_dir=tmp_path) as srv, Client(srv.address, client_id="ann") as c:
        a = c.create(display_name="kept", profile="6.1").simulation_id
        c.set_breakpoints(a, [("mem_init", "exit")])
        c.run_until(a)
        b = c.create().simulation_id
        c.boot(b)
        pfn = c.alloc_pages(b, order=4)
        r, = c.batch([pb.BatchRequest(simulation_id=b, alloc=pb.AllocBatch(count=300))])
        gone = c.create().simulation_id
        c.delete(gone)
        before = {s.simulation_id: s for s in c.list()}
        texts = {sid: c.proc(sid, "buddyinfo") if s.boot_complete else c.memblock(sid).dump
                 for sid, s in before.items()}
        logs = {sid: list(c.events(sid, kinds=[pb.EVENT_KIND_LOG])) for sid in before}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{sid}.mmsvc-sim" for sid in before)
    with ServerThread(state_dir=tmp_path) as srv, Client(srv.address, client_id="ann") as c:
        after = {s.simulation_id: s for s in c.list()}
        assert set(after) == set(before)
        for sid, s in after.items():
            old = before[sid]
            for f in ("display_name", "controller", "next_step", "boot_complete",
                      "history_length", "log_records", "breakpoints", "create_time"):
                assert getattr(s, f) == getattr(old, f), f
            now = c.proc(sid, "buddyinfo") if s.boot_complete else c.memblock(sid).dump
            assert now == texts[sid]
            assert list(c.events(sid, kinds=[pb.EVENT_KIND_LOG])) == logs[sid]
        # still controlled by the same client, and usable
        c.free_pages(b, pfn, order=4)
        assert c.run_until(a).reason == pb.STOP_REASON_BOOT_COMPLETE
    with ServerThread(state_dir=tmp_path) as srv, Client(srv.address) as c:
        assert c.get(a).boot_complete


def test_state_dir_skips_unreadable_files(tmp_path):
    (tmp_path / "bad.mmsvc-sim").write_bytes(b"junk")
    (tmp_path / "x.mmsvc-sim.tmp123").write_bytes(b"partial")
    with ServerThread(state_dir=tmp_path) as srv, Client(srv.address) as c:
        assert c.list() == []
    assert not (tmp_path / "x.mmsvc-sim.tmp123").exists()


def test_cli_serve_and_remote(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mmsvc.cli import main; main()", "serve", "--listen",
         "127.0.0.1:0", "--state-dir", str(tmp_path), "--max-simulations", "3"],
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = None
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        assert port, "server did not report its port"
        runner = CliRunner()
        local = runner.invoke(cli, ["buddyinfo"])
        remote = runner.invoke(cli, ["buddyinfo", "--remote", f"127.0.0.1:{port}"])
        assert remote.exit_code == 0, remote.output
        assert remote.output == local.output
        boot = runner.invoke(cli, ["boot", "--remote", f"127.0.0.1:{port}", "--profile", "6.1"])
        assert boot.exit_code == 0 and boot.output == runner.invoke(
            cli, ["boot", "--profile", "6.1"]).output
        slab = runner.invoke(cli, ["slabinfo", "--remote", f"127.0.0.1:{port}"])
        assert slab.exit_code == 0 and slab.output == runner.invoke(cli, ["slabinfo"]).output
        step = runner.invoke(cli, ["step", "--steps", "--remote", f"127.0.0.1:{port}"],
                             input="\n\nq\n")
        assert step.exit_code == 0, step.output
        assert "next: setup_arch/" in step.output and "Zone ranges:" in step.output
        with Client(f"127.0.0.1:{port}") as c:
            assert c.capabilities().limits.max_simulations == 3
            assert c.list() == []  # --remote deletes what it created
    finally:
        proc.terminate()
        proc.wait(30)


def test_generated_stubs_are_fresh(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_protos
    finally:
        sys.path.pop(0)
    try:
        installed = md.version("grpcio-tools")
    except md.PackageNotFoundError:
        pytest.skip("grpcio-tools is not installed (pip install -e '.[test]')")
    if installed != gen_protos.GRPCIO_TOOLS_VERSION:
        pytest.skip(f"grpcio-tools {installed} is not the pinned "
                    f"{gen_protos.GRPCIO_TOOLS_VERSION}")
    gen_protos.generate(tmp_path)
    committed = REPO / "python" / "mmsvc" / "v1"
    fresh = tmp_path / "mmsvc" / "v1"
    names = sorted(p.name for p in fresh.iterdir() if p.is_file())
    assert names == sorted(gen_protos.GENERATED)
    stale = [n for n in names if not filecmp.cmp(committed / n, fresh / n, shallow=False)]
    assert not stale, f"stale generated stubs {stale}: run python scripts/gen_protos.py"


def test_pins_agree():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_protos
    finally:
        sys.path.pop(0)
    text = (REPO / "pyproject.toml").read_text()
    assert f'"grpcio-tools=={gen_protos.GRPCIO_TOOLS_VERSION}"' in text
    gencode = re.search(r"Protobuf Python Version: ([\d.]+)",
                        (REPO / "python/mmsvc/v1/simulation_service_pb2.py").read_text())
    assert gencode and f'"protobuf>={gencode.group(1)},<8"' in text


def test_tls_with_token(tmp_path):
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    from mmsvc.client import RemoteError

    with ServerThread(tls=(cert.read_bytes(), key.read_bytes()), token="t") as srv:
        with Client(srv.address, root_certificates=cert.read_bytes(), token="t") as c:
            sid = c.create().simulation_id
            c.boot(sid)
            assert "Normal" in c.proc(sid, "buddyinfo")
        with Client(srv.address, token="t") as plain, pytest.raises(RemoteError):
            plain.call("ListSimulations", pb.ListSimulationsRequest(), timeout=3)
        out = CliRunner().invoke(cli, ["buddyinfo", "--remote", srv.address, "--remote-token",
                                       "t", "--remote-tls-ca", str(cert)])
        assert out.exit_code == 0, out.output
        assert out.output.startswith("Node 0, zone      DMA")
