"""What the load run reads from /proc: CPU and memory of processes, the machine's CPU and load, and
the UDP counters of the run's own network namespace."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = 100  # /proc clock ticks a second (USER_HZ)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, every thread


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rig_ticks(names: dict[int, str]) -> dict[str, int]:
    """CPU ticks so far of every process this run started (this process's descendants, itself
    included), by program: ``names`` names some pids, the rest go by their command."""
    parent: dict[int, int] = {}
    ticks: dict[int, tuple[str, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        fields = text.rsplit(")", 1)[1].split()
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        ticks[pid] = (text[text.index("(") + 1:text.rindex(")")], int(fields[11]) + int(fields[12]))
    mine, found = {os.getpid()}, True
    while found:
        found = False
        for pid, ppid in parent.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                found = True
    by_program: dict[str, int] = {}
    for pid in mine & set(ticks):
        command, used = ticks[pid]
        name = names.get(pid) or ("chromium" if command.startswith("chrom") else
                                  command if command in ("asterisk", "sipp") else "harness")
        by_program[name] = by_program.get(name, 0) + used
    return by_program


def udp_received() -> int:
    """UDP datagrams received so far in this network namespace (only the run's own traffic)."""
    head, values = [line.split()[1:] for line in Path("/proc/net/snmp").read_text().splitlines()
                    if line.startswith("Udp:")][:2]
    return int(dict(zip(head, values, strict=True))["InDatagrams"])


def asterisk_rtp_drops() -> int:
    """Datagrams dropped so far at Asterisk's open RTP sockets (127.0.0.1, ports 10000-19999) for a
    full receive buffer: Asterisk not keeping up. (sipp's customer side never reads its media port,
    so the namespace's total counts those too.)"""
    drops = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(":")
        if address == "0100007F" and 10000 <= int(port, 16) <= 19999:
            drops += int(fields[-1])
    return drops


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)
