"""Asterisk 22 from Debian sid in a chroot: the real gateway for the demo and the tests.

``build(root)`` makes the chroot once (debootstrap + apt, about a minute, cached outside the repo).
``AsteriskSandbox(root, workdir)`` runs one Asterisk in it. Every instance keeps its configuration,
sockets, logs and database in its own ``workdir`` on the host, which only its own processes see at
``/ctibridge`` inside the chroot (a private mount namespace per process, gone with the process), so
the shared chroot is never written while running and nothing is left mounted after a crash.

``ctibridge asterisk-sandbox build|start|stop|status`` is the command line (asterisk/sandbox.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ctibridge.gateway.moh import hold_music

DEFAULT_ROOT = "/var/cache/ctibridge/asterisk-sid"
STAMP = ".ctibridge-built"
INSIDE = "/ctibridge"  # where an instance's workdir appears inside the chroot
APT = ["apt-get", "-o", "Acquire::Check-Valid-Until=false"]
PACKAGES = ["asterisk", "asterisk-modules"]
MOH_FILE = "usr/share/asterisk/moh/ctibridge/ctibridge-hold.ulaw"
INSTANCE_DIRS = ("etc", "run", "log", "lib", "spool", "cache")
BOOT_DEADLINE_S = 20.0


class SandboxError(RuntimeError):
    pass


def default_root() -> Path:
    return Path(os.environ.get("CTIBRIDGE_ASTERISK_ROOT", DEFAULT_ROOT))


def is_built(root: Path) -> bool:
    return (root / STAMP).is_file()


def _run(argv: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
    subprocess.run(argv, check=True, env=env)


def build(root: Path, mirror: str = "http://deb.debian.org/debian") -> None:
    """Make the chroot unless it is already complete. A lock serialises concurrent builds; a
    directory without the stamp (an interrupted build) is removed and built again."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_built(root):
            return
        if root.exists():
            if any(m.startswith(f"{root}/") for m in _mount_points()):
                raise SandboxError(f"{root} is half built and has mounts under it; unmount them first")
            shutil.rmtree(root)
        _run(["debootstrap", "--variant=minbase", "sid", str(root), mirror])
        _run(["chroot", str(root), *APT, "update"])
        _run(["chroot", str(root), *APT, "install", "-y", "--no-install-recommends", *PACKAGES])
        _run(["chroot", str(root), "apt-get", "clean"])
        (root / INSIDE.lstrip("/")).mkdir(exist_ok=True)
        moh = root / MOH_FILE
        moh.parent.mkdir(parents=True, exist_ok=True)
        moh.write_bytes(hold_music())
        version = subprocess.run(
            ["chroot", str(root), "asterisk", "-V"], check=True, capture_output=True, text=True
        ).stdout
        (root / STAMP).write_text(version, encoding="utf-8")


def _mount_points() -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return [line.split()[1] for line in mounts]


def _module_dir(root: Path) -> str:
    found = sorted(root.glob("usr/lib/*/asterisk/modules"))
    if not found:
        raise SandboxError(f"no Asterisk modules under {root}: is the sandbox built?")
    return "/" + str(found[0].relative_to(root))


def _asterisk_conf(module_dir: str) -> str:
    dirs = {name: f"{INSIDE}/{name}" for name in INSTANCE_DIRS}
    return (
        "; written by ctibridge.gateway.sandbox: everything writable lives in the instance's workdir\n"
        "[directories]\n"
        f"astetcdir => {dirs['etc']}\n"
        f"astmoddir => {module_dir}\n"
        f"astvarlibdir => {dirs['lib']}\n"
        f"astdbdir => {dirs['lib']}\n"
        f"astkeydir => {dirs['lib']}\n"
        "astdatadir => /usr/share/asterisk\n"
        "astagidir => /usr/share/asterisk/agi-bin\n"
        f"astspooldir => {dirs['spool']}\n"
        f"astrundir => {dirs['run']}\n"
        f"astlogdir => {dirs['log']}\n"
        f"astcachedir => {dirs['cache']}\n"
        "astsbindir => /usr/sbin\n"
        "[options]\n"
        "documentation_language = en_US\n"
    )


def ami_port(config_files: Mapping[str, str]) -> int:
    """The AMI port a configuration listens on (manager.conf ``port=``, default 5038)."""
    found = re.search(r"^port\s*=\s*(\d+)", config_files.get("manager.conf", ""), re.M)
    return int(found[1]) if found else 5038


class AsteriskSandbox:
    """One Asterisk process in the chroot ``root``, with its state in ``workdir``."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._configs: dict[str, str] = {}

    # ------------------------------------------------------------------ commands in the chroot
    def _argv(self, *asterisk_args: str) -> list[str]:
        """unshare a private mount namespace, show the workdir at /ctibridge, chroot, run asterisk.
        (Asterisk needs no /proc in the chroot.)"""
        script = (
            f'work=$1 root=$2; shift 2; mount --bind "$work" "$root{INSIDE}" && '
            f'exec chroot "$root" /usr/sbin/asterisk -C {INSIDE}/etc/asterisk.conf "$@"'
        )
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", script, "sh", str(self.workdir), str(self.root), *asterisk_args,
        ]  # fmt: skip

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command (``asterisk -rx``) against the running instance."""
        result = subprocess.run(
            self._argv("-rx", command), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r}: rc={result.returncode} {result.stderr.strip()}")
        return result.stdout

    def log_text(self) -> str:
        path = self.workdir / "log" / "messages.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------ life cycle
    def _prepare(self, config_files: Mapping[str, str]) -> None:
        if not is_built(self.root):
            raise SandboxError(f"no Asterisk sandbox at {self.root}: run scripts/install-asterisk-sandbox.sh")
        for name in INSTANCE_DIRS:
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        etc = self.workdir / "etc"
        shutil.rmtree(etc)
        # The distribution's files first, so core settings we do not generate keep their defaults
        # (users.conf left out: it is deprecated and pbx_config warns whenever it exists).
        shutil.copytree(self.root / "etc/asterisk", etc, ignore=shutil.ignore_patterns("users.conf"))
        for name, text in {**config_files, "asterisk.conf": _asterisk_conf(_module_dir(self.root))}.items():
            (etc / name).write_text(text, encoding="utf-8")
        (self.workdir / "run" / "asterisk.ctl").unlink(missing_ok=True)

    def _spawn(self) -> None:
        port = ami_port(self._configs)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise SandboxError(f"AMI port {port} is taken: is another sandbox running here?") from exc
        with open(self.workdir / "log" / "asterisk.out", "ab") as out:
            self.process = subprocess.Popen(
                self._argv("-f", "-n"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills all of it
            )
        (self.workdir / "asterisk.pid").write_text(f"{self.process.pid}\n", encoding="utf-8")

    async def start(self, config_files: Mapping[str, str]) -> None:
        """Write the configuration, start Asterisk, return once AMI has answered after FullyBooted."""
        self._configs = dict(config_files)
        self._prepare(self._configs)
        self._spawn()
        await self._wait_booted(time.monotonic() + BOOT_DEADLINE_S)

    async def _wait_booted(self, deadline: float) -> None:
        ctl = self.workdir / "run" / "asterisk.ctl"
        while not ctl.exists():
            self._checkprocess_alive()
            if time.monotonic() > deadline:
                raise SandboxError(f"Asterisk did not open its control socket:\n{self._tail()}")
            await asyncio.sleep(0.02)
        # blocks inside Asterisk until FullyBooted has been raised
        await asyncio.to_thread(self.cli, "core waitfullybooted", max(deadline - time.monotonic(), 1.0))
        await self._wait_ami_greeting(deadline)

    async def _wait_ami_greeting(self, deadline: float) -> None:
        port = ami_port(self._configs)
        while True:
            self._checkprocess_alive()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                try:
                    greeting = await asyncio.wait_for(
                        reader.readline(), max(deadline - time.monotonic(), 0.1)
                    )
                finally:
                    writer.close()
                if greeting.startswith(b"Asterisk Call Manager/"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SandboxError(f"AMI on 127.0.0.1:{port} did not answer:\n{self._tail()}")
            await asyncio.sleep(0.02)

    def _checkprocess_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise SandboxError(f"Asterisk exited with rc={self.process.returncode}:\n{self._tail()}")

    def _tail(self, lines: int = 30) -> str:
        out = self.workdir / "log" / "asterisk.out"
        text = out.read_text(errors="replace") if out.exists() else ""
        return "\n".join((text + self.log_text()).splitlines()[-lines:])

    async def stop(self, graceful_s: float = 5.0) -> None:
        """Stop Asterisk (``core stop now``, so AMI clients see Shutdown), then kill whatever is left."""
        if self.process is None:
            return
        await asyncio.to_thread(stop_process_group, self.process.pid, self.cli, graceful_s)
        self.process.wait()
        self.process = None
        (self.workdir / "asterisk.pid").unlink(missing_ok=True)

    async def restart(self) -> None:
        """A full stop and start with the same configuration: new PID, Uptime 0, AMI sessions dropped."""
        await self.stop()
        await self.start(self._configs)


def stop_process_group(pid: int, cli: Callable[[str, float], str], graceful_s: float) -> None:
    """Ask Asterisk ``pid`` to stop, then SIGTERM and SIGKILL its process group until it is gone."""
    try:
        cli("core stop now", graceful_s)
    except (SandboxError, subprocess.TimeoutExpired):
        pass  # not answering: the signals below end it
    for sig, wait_s in ((None, graceful_s), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        if sig is not None:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not process_alive(pid):
                return
            time.sleep(0.02)


def process_alive(pid: int) -> bool:
    """Running, and not a zombie (our own child stays one until Popen.wait reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


# ---------------------------------------------------------------------- command line
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ctibridge asterisk-sandbox",
                                description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("command", choices=["build", "start", "stop", "status"])
    p.add_argument(
        "--root", type=Path, default=None, help=f"chroot (default $CTIBRIDGE_ASTERISK_ROOT or {DEFAULT_ROOT})"
    )
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ctibridge-asterisk")
    p.add_argument(
        "--config-dir", type=Path, help="start: the generated files (ctibridge asterisk-config --out)"
    )
    args = p.parse_args(argv)
    root = args.root or default_root()
    sandbox = AsteriskSandbox(root, args.workdir)
    pid_file = args.workdir / "asterisk.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else 0
    if args.command == "build":
        build(root)
        print((root / STAMP).read_text(encoding="utf-8").strip(), "in", root)
    elif args.command == "start":
        if args.config_dir is None:
            p.error("start needs --config-dir")
        if pid and process_alive(pid):
            print(f"already running: pid {pid}", file=sys.stderr)
            return 1
        files = {f.name: f.read_text(encoding="utf-8") for f in sorted(args.config_dir.glob("*.conf"))}
        asyncio.run(sandbox.start(files))
        print(
            f"Asterisk running: pid {sandbox.process.pid if sandbox.process else '?'}, workdir {args.workdir}"
        )
    elif args.command == "stop":
        if pid:
            stop_process_group(pid, sandbox.cli, 5.0)
            pid_file.unlink(missing_ok=True)
        print("stopped")
    else:
        print(f"built: {is_built(root)} ({root})")
        running = bool(pid) and process_alive(pid)
        print(f"running: {running}" + (f" (pid {pid}, workdir {args.workdir})" if running else ""))
        if running:
            print(sandbox.cli("core show uptime").strip())
    return 0
