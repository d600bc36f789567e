"""The proto contract follows the house (buf) style: every element documented,
enum zero values ``<ENUM>_UNSPECIFIED`` with the enum-name prefix, one
Request/Response message per RPC, the package versioned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


@pytest.fixture(scope="module")
def fds(tmp_path_factory):
    protoc = pytest.importorskip("grpc_tools.protoc")
    import google.rpc
    import grpc_tools
    from google.protobuf import descriptor_pb2

    out = tmp_path_factory.mktemp("fds") / "set.bin"
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(next(iter(google.rpc.__path__))).parents[1]
    files = [str(p.relative_to(REPO / "protos"))
             for p in sorted((REPO / "protos/mmsvc/v1").glob("*.proto"))]
    rc = protoc.main(["protoc", f"-I{REPO / 'protos'}", f"-I{well_known}", f"-I{googleapis}",
                      "--include_source_info", f"--descriptor_set_out={out}", *files])
    assert rc == 0
    s = descriptor_pb2.FileDescriptorSet()
    s.ParseFromString(out.read_bytes())
    return s


def test_every_element_is_documented(fds):
    undocumented = []
    for f in fds.file:
        assert f.package == "mmsvc.v1"
        comments = {tuple(loc.path): loc.leading_comments.strip()
                    for loc in f.source_code_info.location}

        def check(path, what, comments=comments):
            if not comments.get(tuple(path)):
                undocumented.append(what)

        for i, m in enumerate(f.message_type):
            check([4, i], m.name)
            for j, fld in enumerate(m.field):
                check([4, i, 2, j], f"{m.name}.{fld.name}")
        for i, e in enumerate(f.enum_type):
            check([5, i], e.name)
            for j, v in enumerate(e.value):
                check([5, i, 2, j], f"{e.name}.{v.name}")
        for i, svc in enumerate(f.service):
            check([6, i], svc.name)
            for j, m in enumerate(svc.method):
                check([6, i, 2, j], f"{svc.name}.{m.name}")
    assert not undocumented


def test_enums_and_rpc_messages_follow_the_style(fds):
    for f in fds.file:
        for e in f.enum_type:
            prefix = _upper_snake(e.name) + "_"
            assert e.value[0].number == 0 and e.value[0].name == prefix + "UNSPECIFIED"
            assert all(v.name.startswith(prefix) for v in e.value), e.name
        inputs = []
        for svc in f.service:
            for m in svc.method:
                assert m.input_type == f".mmsvc.v1.{m.name}Request", m.name
                assert m.output_type == f".mmsvc.v1.{m.name}Response", m.name
                inputs.append(m.input_type)
        assert len(inputs) == len(set(inputs))


def test_default_deadlines_are_documented():
    text = (REPO / "protos/mmsvc/v1/simulation_service.proto").read_text()
    for rpc in re.findall(r"rpc (\w+)\(", text):
        block = text[:text.index(f"rpc {rpc}(")].rsplit(";", 1)[-1]
        assert "deadline" in block.lower(), rpc
