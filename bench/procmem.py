"""Memory of a process as Linux reports it (``/proc/PID/status``), for the benchmarks that measure it.

VmHWM is the peak resident set since the process started (``ru_maxrss`` of a parent would fold in
its children), VmRSS the resident set now.
"""

from __future__ import annotations

from pathlib import Path


def status_mib(field: str, pid: int | str = "self") -> float:
    """``field`` (``"VmHWM"``, ``"VmRSS"``) of process ``pid`` in MiB; 0 if it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_mib(pid: int | str = "self") -> float:
    return status_mib("VmHWM", pid)
