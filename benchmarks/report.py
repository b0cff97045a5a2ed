"""Tables, the machine description and PASS/MISS lines, printed and collected for RESULTS.md."""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table with aligned columns: readable on a terminal and rendered on GitHub."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g} s" if value < 100 else f"{value:.0f} s"


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f} ms"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def megabytes(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f} MB"


@dataclass
class Verdict:
    target: str  # "(b)/(a) ≤ 1.10, MLP"
    measured: str  # "1.04×"
    passed: bool | None  # None: not measured, or not meaningful at this size
    note: str = ""

    def line(self) -> str:
        mark = {True: "PASS", False: "MISS", None: "----"}[self.passed]
        return f"{mark}  {self.target}: {self.measured}" + (f" ({self.note})" if self.note else "")


@dataclass
class Report:
    """Sections are printed as soon as they are measured and kept for RESULTS.md."""

    sections: list[tuple[str, str]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    not_measured: list[str] = field(default_factory=list)

    def add(self, title: str, body: str) -> None:
        self.sections.append((title, body))
        print(f"\n## {title}\n\n{body}", flush=True)

    def verdict(self, target: str, measured: str, passed: bool | None, note: str = "") -> None:
        self.verdicts.append(Verdict(target, measured, passed, note))

    def missing(self, what: str) -> None:
        self.not_measured.append(what)

    def closing(self) -> str:
        """The targets and the gaps, as printed last and written at the end of RESULTS.md."""
        lines = ["```", *(v.line() for v in self.verdicts), "```"]
        if self.not_measured:
            lines += ["", "Not measured:", "", *(f"- TODO: {what}" for what in self.not_measured)]
        return "\n".join(lines)

    def markdown(self, title: str, caveat: str = "") -> str:
        parts = [f"# {title}", "", "Written by `make bench` (`python -m benchmarks.run`); do not edit by hand.", ""]
        for heading, body in self.sections:
            parts += [f"## {heading}", "", body, ""]
        parts += ["## Targets", "", *([caveat.strip(), ""] if caveat else []), self.closing(), ""]
        return "\n".join(parts)


STARTED = time.perf_counter()


def progress(message: str) -> None:
    """What is being measured now, with seconds since start, on stderr so stdout holds only the results."""
    print(f"· {time.perf_counter() - STARTED:5.0f} s  {message}", file=sys.stderr, flush=True)


# -- the machine -----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def busy_cores(sample_s: float = 1.0) -> float | None:
    """Cores kept busy by other processes over ``sample_s`` while this one sleeps (from /proc/stat)."""
    def totals() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    try:
        busy_before, all_before = totals()
        time.sleep(sample_s)
        busy_after, all_after = totals()
    except (OSError, ValueError, IndexError):
        return None
    cores = os.cpu_count() or 1
    return cores * (busy_after - busy_before) / max(1, all_after - all_before)


def machine_rows(busy: float | None) -> list[list[str]]:
    import torch
    import torchvision

    from core.devices import cpu_count

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    other = ("unknown" if busy is None else
             f"yes: other processes kept {busy:.1f} of {os.cpu_count()} cores busy in the second before the run"
             if busy >= 0.25 else f"no: {busy:.2f} cores busy in the second before the run")
    return [["date", time.strftime("%Y-%m-%d %H:%M %Z")],
            ["CPU", cpu_model()],
            ["cores", f"{os.cpu_count()} logical, {cpu_count()} usable by this process"],
            ["GPU", gpu],
            ["Python / torch / torchvision", f"{platform.python_version()} / {torch.__version__} / "
                                             f"{torchvision.__version__}"],
            ["another process busy?", other],
            ["load average (1/5/15 min) at start", load_average()]]
