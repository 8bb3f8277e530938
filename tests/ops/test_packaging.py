"""``pip install .`` gives an operator everything ``run`` and ``demo`` serve: the wheel carries the
widget with its vendored SIP.js (and nothing else of the widget directory), and, installed into a
fresh virtualenv, ``ctibridge demo`` serves the widget and SIP.js from it."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import aiohttp
import pytest

from ctibridge import __version__

REPO = Path(__file__).resolve().parents[2]
VENDOR_CHECK = [sys.executable, str(REPO / "tools" / "vendor_sipjs.py"), "--check"]


NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "artifacts", "*.egg-info", "__pycache__",
                                     ".*_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the checkout (with the widget's node_modules, as after bootstrap), so
    no earlier build's leftovers can slip in."""
    source, out = tmp_path_factory.mktemp("source") / "ctibridge", tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, source, ignore=NOT_SOURCES, symlinks=True)
    # offline: the build backend comes from this virtualenv, not from an index
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("ctibridge-*.whl")
    return built


def test_the_vendored_sipjs_is_the_pinned_npm_release() -> None:
    checked = subprocess.run(VENDOR_CHECK, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    widget = REPO / "ctibridge" / "widget"
    lock = json.loads((widget / "package-lock.json").read_text())
    installed = json.loads((widget / "node_modules" / "sip.js" / "package.json").read_text())
    assert lock["packages"]["node_modules/sip.js"]["version"] == installed["version"] == "0.21.2"


def test_the_wheel_holds_the_widget_and_nothing_else_of_its_directory(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    widget = {n.removeprefix("ctibridge/widget/") for n in names if n.startswith("ctibridge/widget/")}
    assert {"index.html", "app.js", "phone.js", "style.css", "icon.svg", "wwe.js",
            "vendor/sip.js/index.js", "vendor/sip.js/api/user-agent.js", "vendor/sip.js/LICENSE.md"} <= widget
    assert not [n for n in widget if n.startswith("node_modules/") or n in ("package.json", "README.md")]
    assert {"ctibridge/web/operator.html", "ctibridge/web/operator.js"} <= names
    assert f"ctibridge-{__version__}.dist-info/METADATA" in names


@pytest.fixture
def installed(wheel: Path, tmp_path: Path) -> Path:
    """A fresh virtualenv with the wheel installed; returns its ``ctibridge`` script."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The dependencies come from this virtualenv's site-packages, appended after the fresh one's
    # (a plain path: its .pth files, among them the editable ctibridge, are not processed).
    fresh_site = Path(subprocess.check_output(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    (fresh_site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    ctibridge = venv / "bin" / "ctibridge"
    assert subprocess.check_output([str(ctibridge), "--version"], text=True, cwd=tmp_path) == \
        f"ctibridge {__version__}\n"
    where = subprocess.check_output([str(venv / "bin" / "python"), "-c",
                                     "import ctibridge; print(ctibridge.__file__)"], text=True, cwd=tmp_path)
    assert where.startswith(str(fresh_site)), where  # the installed copy, not the source tree
    return ctibridge


async def test_installed_wheel_serves_the_widget_and_sipjs(installed: Path, tmp_path: Path) -> None:
    demo = await asyncio.create_subprocess_exec(
        str(installed), "demo", "--asterisk", "sim", "--port", "0", "--duration", "60", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(60):
            while (found := re.search(r"ctibridge demo on (http://\S+)", lines[-1] if lines else "")) is None:
                line = (await demo.stdout.readline()).decode()
                assert line, "".join(lines)  # the demo ended before printing its URL
                lines.append(line)
        base = found.group(1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/widget/") as resp:
                assert resp.status == 200 and "ctibridge phone" in await resp.text()
            async with http.get(f"{base}/widget/vendor/sip.js/index.js") as resp:
                assert resp.status == 200 and "LIBRARY_VERSION" in await resp.text()
            async with http.get(f"{base}/widget/vendor/sip.js/api/user-agent.js") as resp:
                assert resp.status == 200  # a JavaScript type, or the browser refuses the module
                assert resp.content_type in ("text/javascript", "application/javascript")
    finally:
        demo.terminate()
        await demo.wait()
