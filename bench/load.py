"""HTTP load from wrk (Debian's `wrk`, compiled C: its CPU is not the server's, and is not
counted anyway: server CPU is read from the server's own processes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}

APPROVE_SCRIPT = """
local counter = 0
local thread_index = 0
local threads = {}
function setup(thread)
  thread_index = thread_index + 1
  thread:set("tid", thread_index)
  table.insert(threads, thread)
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer %(token)s"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '%(body)s'
end
function request()
  counter = counter + 1
  return wrk.format(nil, "/v1/returns/%(prefix)s" .. tid .. "-" .. counter .. "/approve")
end
"""

GET_SCRIPT = """
function init(args)
  wrk.headers["Authorization"] = "Bearer %(token)s"
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  local tid = math.random(1, %(threads)d)
  return wrk.format("GET", "/v1/returns/%(prefix)s" .. tid .. "-" .. math.random(1, %(count)d))
end
"""

PATH_SCRIPT = """
function init(args)
  wrk.headers["Authorization"] = "Bearer %(token)s"
end
function request()
  return wrk.format("GET", "%(path)s")
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    non_2xx: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: str

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.seconds


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    url: str, script: str, *, connections: int, seconds: int, threads: int = 2
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--latency",
                "--timeout",
                "30s",
                "-s",
                lua.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(lua.name).unlink()
    out = result.stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert done is not None, out
    seconds_taken = float(done.group(2)) * (60.0 if done.group(3) == "m" else 1.0)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.MULTILINE))
    errors = re.search(r"Socket errors: .*", out)
    return LoadResult(
        requests=int(done.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        seconds=seconds_taken,
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        errors=errors.group(0) if errors else "",
    )


def approve_script(token: str, prefix: str, body: dict[str, object]) -> str:
    return APPROVE_SCRIPT % {"token": token, "prefix": prefix, "body": json.dumps(body)}


def get_script(token: str, prefix: str, threads: int, count: int) -> str:
    return GET_SCRIPT % {"token": token, "prefix": prefix, "threads": threads, "count": count}


def path_script(token: str, path: str) -> str:
    return PATH_SCRIPT % {"token": token, "path": path}
