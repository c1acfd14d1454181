"""wrk: the one way to run it and the one parser for what it prints.

Every load script dofiles bench/wrk/report.lua, whose done() prints one line:

    RESULT rps=1564.2 p50=1.340 p99=27.874 p999=52.060 errors=0

(requests per second, latency percentiles in ms, and every error wrk counts:
non-2xx/3xx answers, connect, read, write and timeout). Anything else is a
failure with wrk's output in the message, never a figure of 0.
"""

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "wrk"
CONNECTIONS = 64

_RESULT = re.compile(
    r"RESULT rps=(?P<rps>\d+\.\d+) p50=(?P<p50>\d+\.\d+) p99=(?P<p99>\d+\.\d+) "
    r"p999=(?P<p999>\d+\.\d+) errors=(?P<errors>\d+)"
)


class WrkOutputError(ValueError):
    """wrk's output held no usable RESULT line."""

    def __init__(self, problem, output):
        super().__init__(f"{problem}; wrk printed:\n{output}")


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int


def parse(output):
    """The figures of report.lua's RESULT line in wrk's stdout."""
    lines = [line for line in output.splitlines() if line.startswith("RESULT")]
    if len(lines) != 1:
        raise WrkOutputError(f"expected one RESULT line, found {len(lines)}", output)
    match = _RESULT.fullmatch(lines[0].rstrip())
    if not match:
        # Also what "-nan" or "inf" (a run of no time) ends in.
        raise WrkOutputError(f"cannot read the RESULT line {lines[0]!r}", output)
    result = WrkResult(
        rps=float(match["rps"]), p50_ms=float(match["p50"]), p99_ms=float(match["p99"]),
        p999_ms=float(match["p999"]), errors=int(match["errors"]),
    )
    if result.rps == 0:
        # wrk prints latencies of 0 when no request finished (a server that
        # never answers: its timeouts are not even counted as errors).
        raise WrkOutputError("no request completed", output)
    return result


def command(url, script, seconds, threads=2, connections=CONNECTIONS, timeout="10s"):
    """wrk's command line; timeout=None leaves wrk's own (2 s)."""
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
            *(["--timeout", timeout] if timeout else []), "-s", str(SCRIPTS / script), url]


def run(url, script, seconds, env=None, prefix=(), **options):
    """Runs wrk with one of bench/wrk/'s scripts (options: those of command());
    `prefix` goes before it (nsenter, to run it in another network namespace)."""
    output = subprocess.run([*prefix, *command(url, script, seconds, **options)],
                            capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, check=True).stdout
    return parse(output)
