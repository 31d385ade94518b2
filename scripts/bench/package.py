"""The application as Lambda runs it: built by ``sam build``, zipped by SAM's own code, unpacked the
way Lambda unpacks it (every file dated as its zip entry: 1980-01-01, because SAM writes no dates).

``sam build`` makes the layer for arm64. To run it on this machine, the same layer Makefile builds it
again for this machine's platform; the sizes reported are those of the arm64 build that ships.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from samcli.lib.package.utils import make_zip_with_lambda_permissions

from devserver.template import ROOT

SAM_BUILD = ROOT / ".aws-sam" / "build"
WORK = ROOT / ".bench" / "lambda"


@dataclass(frozen=True)
class Size:
    unzipped: int
    zipped: int
    parts: dict[str, int]
    """Unzipped bytes of each package in the layer, largest first."""

    def mb(self) -> tuple[float, float]:
        return self.unzipped / 1e6, self.zipped / 1e6


@dataclass(frozen=True)
class Deployment:
    """One function's code and the layer, unpacked as in a Lambda sandbox (``/var/task``, ``/opt``)."""

    task: Path
    opt: Path

    def python_path(self) -> str:
        return os.pathsep.join([str(self.task), str(self.opt / "python")])


def _zip_like_sam(source: Path, into: Path) -> Path:
    """SAM's own zip function, as ``sam deploy`` uploads the artifact."""
    return Path(make_zip_with_lambda_permissions(str(into), str(source)))


def _unzip_like_lambda(archive: Path, target: Path) -> None:
    """Extracts ``archive`` and dates every file as its entry says (1980 for SAM's zips)."""
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(archive) as zipped:
        for entry in zipped.infolist():
            path = Path(zipped.extract(entry, target))
            stamp = time.mktime((*entry.date_time, 0, 0, -1))
            os.utime(path, (stamp, stamp))


def layer_size() -> Size:
    """The shipped (arm64) layer from ``sam build``: bytes on disk once unpacked, and zipped."""
    source = SAM_BUILD / "SharedLayer"
    unzipped = sum(f.stat().st_size for f in source.rglob("*") if f.is_file())
    parts: dict[str, int] = {}
    for file in (f for f in (source / "python").rglob("*") if f.is_file()):
        package = re.split(r"[-.]", file.relative_to(source / "python").parts[0])[0]  # its .dist-info too
        parts[package] = parts.get(package, 0) + file.stat().st_size
    WORK.mkdir(parents=True, exist_ok=True)
    archive = _zip_like_sam(source, WORK / "layer-arm64")
    zipped = archive.stat().st_size
    archive.unlink()
    return Size(unzipped, zipped, dict(sorted(parts.items(), key=lambda part: -part[1])))


def _host_layer() -> Path:
    """The layer built by its own Makefile for this machine (same steps, this platform's wheels)."""
    artifacts = WORK / "layer-build"
    shutil.rmtree(artifacts, ignore_errors=True)
    wheel_platform = f"manylinux2014_{platform.machine()}"
    # The Makefile runs `python3`, as under sam build: this interpreter's own (not the venv's).
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    path = os.pathsep.join([str(base_python.parent), os.environ["PATH"]])
    make = [shutil.which("make") or "make", "-s", "-C", str(ROOT / "shared"), "build-SharedLayer"]
    subprocess.run(  # noqa: S603 - our own Makefile
        [*make, f"ARTIFACTS_DIR={artifacts}", f"LAYER_PLATFORM={wheel_platform}"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PATH": path},
    )
    return artifacts


def deploy_locally(functions: list[str]) -> dict[str, Deployment]:
    """Every function of ``functions`` (logical ids of ``sam build``) with the layer, unpacked."""
    opt = WORK / "opt"
    _unzip_like_lambda(_zip_like_sam(_host_layer(), WORK / "layer"), opt)
    deployments = {}
    for name in functions:
        task = WORK / "task" / name
        _unzip_like_lambda(_zip_like_sam(SAM_BUILD / name, WORK / name), task)
        deployments[name] = Deployment(task, opt)
    return deployments
