#!/usr/bin/env python3
"""Regenerate the committed gRPC stubs of protos/mmsvc/v1 with the pinned grpcio-tools.

    python scripts/gen_protos.py            # writes python/mmsvc/v1/*_pb2*.py(i)
    python scripts/gen_protos.py --out DIR  # writes DIR/mmsvc/v1/... (the staleness test)

The output depends on the grpcio-tools version (it embeds its protobuf gencode
version), so the script refuses any version but GRPCIO_TOOLS_VERSION; the same
pin is in pyproject.toml's test extra.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import sys
from pathlib import Path

GRPCIO_TOOLS_VERSION = "1.85.1"
REPO = Path(__file__).resolve().parents[1]
PROTOS = REPO / "protos"
GENERATED = ("simulation_service_pb2.py", "simulation_service_pb2.pyi",
             "simulation_service_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted((PROTOS / "mmsvc" / "v1").glob("*.proto"))


def generate(out: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) on every proto; returns the files written."""
    version = md.version("grpcio-tools")
    if version != GRPCIO_TOOLS_VERSION:
        raise SystemExit(f"gen_protos: grpcio-tools {version} installed, "
                         f"{GRPCIO_TOOLS_VERSION} pinned (pip install grpcio-tools=="
                         f"{GRPCIO_TOOLS_VERSION})")
    import google.rpc
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(next(iter(google.rpc.__path__))).parents[1]
    out.mkdir(parents=True, exist_ok=True)
    (out / "mmsvc" / "v1").mkdir(parents=True, exist_ok=True)
    files = [str(p.relative_to(PROTOS)) for p in proto_files()]
    cwd = os.getcwd()
    os.chdir(PROTOS)  # relative paths keep absolute paths out of the output
    try:
        rc = protoc.main(["grpc_tools.protoc", "-I.", f"-I{well_known}", f"-I{googleapis}",
                          f"--python_out={out}", f"--pyi_out={out}",
                          f"--grpc_python_out={out}", *files])
    finally:
        os.chdir(cwd)
    if rc != 0:
        raise SystemExit(f"gen_protos: protoc failed with status {rc}")
    return sorted((out / "mmsvc" / "v1").glob("*_pb2*"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "python",
                    help="output root (default: python/)")
    args = ap.parse_args(argv)
    for path in generate(args.out.resolve()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
