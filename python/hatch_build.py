"""hatchling hooks that make the pyattach wheels (see pyproject.toml).

The metadata hook sets the version from the repository's VERSION file and
the dependency on the debugpy release pyattach pins (internal/debugpydist's
Version), so that neither is written twice. The build hook builds the
static pyattach binary for PYATTACH_GOARCH (amd64 or arm64; default: this
machine's) with scripts/build-binary.sh, installs it as the `pyattach`
script (pip puts it in the environment's bin/, beside the debugpy it
supplies: internal/debugpydist's Beside finds that one from there), and tags
the wheel for that architecture. A static Go binary needs no particular
glibc, so the oldest manylinux tag that pip still understands is used.
"""

import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

REPO = Path(__file__).resolve().parent.parent

# The wheel's platform tag for each architecture pyattach is released for.
PLATFORM_TAGS = {
    "amd64": "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "arm64": "manylinux_2_17_aarch64.manylinux2014_aarch64",
}

# platform.machine() on the Linux machines that build the wheels.
HOST_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def pyattach_version():
    return (REPO / "VERSION").read_text(encoding="utf-8").strip()


def pinned_debugpy():
    """internal/debugpydist's Version: the debugpy pyattach supplies."""
    source = REPO / "internal" / "debugpydist" / "debugpydist.go"
    match = re.search(r'^const Version = "([^"]+)"$', source.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no `const Version = \"...\"` in {source}")
    return match.group(1)


class PyattachMetadata(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata):
        metadata["version"] = pyattach_version()
        metadata["dependencies"] = [f"debugpy=={pinned_debugpy()}"]


class PyattachBinary(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        goarch = os.environ.get("PYATTACH_GOARCH") or HOST_GOARCH.get(platform.machine().lower(), "")
        if goarch not in PLATFORM_TAGS:
            raise RuntimeError(f"PYATTACH_GOARCH is {goarch!r}: pyattach's wheels are built for {', '.join(PLATFORM_TAGS)}")
        self._workdir = tempfile.mkdtemp(prefix="pyattach-wheel-")
        binary = os.path.join(self._workdir, "pyattach")
        try:
            subprocess.run([str(REPO / "scripts" / "build-binary.sh"), goarch, binary], check=True)
        except BaseException:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise
        build_data["shared_scripts"][binary] = "pyattach"
        build_data["tag"] = f"py3-none-{PLATFORM_TAGS[goarch]}"
        build_data["pure_python"] = False

    def finalize(self, version, build_data, artifact_path):
        workdir = getattr(self, "_workdir", None)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
