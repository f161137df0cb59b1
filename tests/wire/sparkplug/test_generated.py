"""The committed protobuf code is what protoc makes of the committed schema, today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import wire.sparkplug

HERE = Path(wire.sparkplug.__file__).parent


def test_generated_code_is_current(tmp_path: Path) -> None:
    # grpcio-tools is pinned in the test extra, so protoc's output is byte-for-byte stable.
    run = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{HERE}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", "sparkplug_b.proto"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, f"protoc failed (is the test extra installed?): {run.stderr}"
    for name in ("sparkplug_b_pb2.py", "sparkplug_b_pb2.pyi"):
        assert (tmp_path / name).read_bytes() == (HERE / name).read_bytes(), (
            f"wire/sparkplug/{name} is stale: regenerate it with "
            "python -m grpc_tools.protoc -I wire/sparkplug --python_out=wire/sparkplug "
            "--pyi_out=wire/sparkplug sparkplug_b.proto"
        )


def test_schema_is_the_official_tahu_one() -> None:
    from wire.sparkplug import sparkplug_b_pb2 as pb

    assert pb.DESCRIPTOR.package == "org.eclipse.tahu.protobuf"
    assert pb.Payload.DESCRIPTOR.full_name == "org.eclipse.tahu.protobuf.Payload"
    assert [f.name for f in pb.Payload.DESCRIPTOR.fields] == ["timestamp", "metrics", "seq", "uuid", "body"]
