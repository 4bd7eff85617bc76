"""Shared helpers for hop's monitoring scripts (python3 standard library only).

Used by scripts/monitoring/stack (the local stack), scripts/monitoring/discord-mock and
scripts/ci/alert-e2e (the end-to-end alert test). It owns:

- starting and always stopping child processes (hop, Prometheus, Alertmanager);
- the Discord mock receiver, which records every webhook POST;
- deriving run-time configuration from the committed files, so that alerts.yml,
  alertmanager.yml.tmpl and the dashboard stay the single sources;
- small HTTP helpers that talk to 127.0.0.1 only and never go through a proxy.

Everything listens on and talks to 127.0.0.1: nothing here may reach another host.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
AM_TEMPLATE = MONITORING / "alertmanager.yml.tmpl"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "hop.json"
RENDER_AM = REPO / "scripts" / "monitoring" / "render-alertmanager"

LOOPBACK = "127.0.0.1"


# --- HTTP ------------------------------------------------------------------------------------


def http_request(method, url, body=None, headers=None, timeout=5.0):
    """One HTTP request to a loopback URL; returns (status, headers, body bytes).

    http.client is used instead of urllib because urllib honours proxy variables from the
    environment, and a request meant for 127.0.0.1 must never leave the machine.
    Redirects are not followed, so a 302 from hop is seen as a 302.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.hostname != LOOPBACK:
        raise ValueError(f"refusing to talk to a non-loopback address: {url}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        data = None
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def wait_until(predicate, timeout, interval=0.25):
    """Poll predicate() until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, http.client.HTTPException, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def http_ok(url):
    """True when url answers 200; connection errors count as not ready."""
    try:
        return http_request("GET", url, timeout=2)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- Prometheus API --------------------------------------------------------------------------


def prom_query(prom_url, expr, timeout=5.0):
    """Instant query; returns the result list or raises RuntimeError with Prometheus' error."""
    query = urllib.parse.urlencode({"query": expr})
    status, _, body = http_request("GET", f"{prom_url}/api/v1/query?{query}", timeout=timeout)
    payload = json.loads(body)
    if status != 200 or payload.get("status") != "success":
        raise RuntimeError(payload.get("error") or f"HTTP {status}")
    return payload["data"]["result"]


def prom_rules(prom_url):
    """Names of the alerting rules Prometheus has loaded."""
    _, _, body = http_request("GET", f"{prom_url}/api/v1/rules?type=alert")
    groups = json.loads(body)["data"]["groups"]
    return {rule["name"] for group in groups for rule in group["rules"]}


# --- Processes -------------------------------------------------------------------------------


class Processes:
    """Child processes started by a script, stopped in reverse order by stop_all().

    Each child gets its own process group, so stopping it also stops anything it spawned,
    and only processes this object started are ever signalled.
    """

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.children = {}

    def start(self, name, argv, env=None):
        """Start argv with stdout and stderr in LOG_DIR/NAME.log. `env` is the whole
        environment when given (see hop_env), else this process' own."""
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy() if env is None else env,
            start_new_session=True,
        )
        log.close()
        self.children[name] = proc
        return proc

    def stop(self, name, sig=signal.SIGTERM, timeout=10.0):
        """Signal one child's process group and wait for it; SIGKILL when it lingers."""
        proc = self.children.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def stop_all(self):
        for name in reversed(list(self.children)):
            self.stop(name)


# --- Discord mock ----------------------------------------------------------------------------


class DiscordMock:
    """A stand-in for a Discord webhook: records each POSTed JSON body and answers 204.

    Discord answers 204 No Content to a webhook call without ?wait=true, which is what
    Alertmanager sends. Each message is appended to `record_path` as one JSON line
    {"received_at": unix time, "path": ..., "body": ...} and kept in self.messages.
    """

    def __init__(self, record_path, port=0):
        self.record_path = Path(record_path)
        self.messages = []
        self._lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                mock._record(self.path, body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_port}/api/webhooks/0/hop-mock"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _record(self, path, body):
        entry = {"received_at": time.time(), "path": path, "body": body}
        with self._lock:
            self.messages.append(entry)
            with open(self.record_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self._lock:
            return list(self.messages)


def discord_text(body):
    """All human-readable text of a Discord webhook payload: content plus embed texts."""
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts.append(embed.get("title") or "")
        parts.append(embed.get("description") or "")
    return "\n".join(parts)


def is_discord_shaped(body):
    """Discord accepts a webhook body with non-empty "content" and/or "embeds"."""
    if not isinstance(body, dict):
        return False
    has_content = isinstance(body.get("content"), str) and body["content"] != ""
    embeds = body.get("embeds")
    has_embeds = isinstance(embeds, list) and len(embeds) > 0 and all(
        isinstance(e, dict) and (e.get("title") or e.get("description")) for e in embeds
    )
    return has_content or has_embeds


# --- Configuration derived from the committed files ------------------------------------------

_DURATION = re.compile(r"(\d+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text):
    """Seconds in a Prometheus duration such as 1m, 90s or 1h30m."""
    if not re.fullmatch(r"(\d+(ms|s|m|h))+", text):
        raise ValueError(f"not a duration: {text}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))


def alert_names(rules_path=ALERTS):
    """Alert names in a rules file, in file order."""
    return re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$", Path(rules_path).read_text(), re.M)


def derive_fast_rules(src, dst, scale=30):
    """Copy a rules file with every `for:` divided by `scale` (at least 1s, 0 stays 0).

    This is how the end-to-end test gets alerts that fire in seconds while alerts.yml stays
    the only definition of what the alerts are. Returns {alert: (old, new)} for the log.
    """
    changes = {}
    current = None
    out = []
    for line in Path(src).read_text().splitlines(keepends=True):
        named = re.match(r"^\s*-\s*alert:\s*(\S+)", line)
        if named:
            current = named.group(1)
        hold = re.match(r"^(\s*for:\s*)(\S+)(\s*)$", line)
        if hold:
            seconds = parse_duration(hold.group(2))
            fast = 0 if seconds == 0 else max(1, round(seconds / scale))
            changes[current] = (hold.group(2), f"{fast}s")
            line = f"{hold.group(1)}{fast}s{hold.group(3)}"
        out.append(line)
    Path(dst).write_text("".join(out))
    return changes


def render_alertmanager(dst, webhook_url, warning_url=None, fast=False):
    """Render alertmanager.yml.tmpl with the real render script.

    fast=True shortens group_wait and group_interval to 1s and repeat_interval to 1m and the
    resolve timeout to 10s, for tests that must see a notification within seconds.
    """
    env = {**os.environ, "DISCORD_WEBHOOK_URL": webhook_url}
    env.pop("DISCORD_WEBHOOK_URL_WARNING", None)
    if warning_url:
        env["DISCORD_WEBHOOK_URL_WARNING"] = warning_url
    subprocess.run(
        [str(RENDER_AM), str(AM_TEMPLATE), str(dst)],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    if fast:
        text = Path(dst).read_text()
        for key, value in (("group_wait", "1s"), ("group_interval", "1s"),
                           ("repeat_interval", "1m"), ("resolve_timeout", "10s")):
            text = re.sub(rf"^(\s*{key}:\s*)\S+", rf"\g<1>{value}", text, flags=re.M)
        Path(dst).write_text(text)


def write_prometheus_config(dst, rules_file, hop_targets, alertmanager_target,
                            scrape_interval="15s", evaluation_interval="15s",
                            metrics_token_file=None):
    """A Prometheus configuration for processes on loopback.

    It mirrors deploy/monitoring/prometheus.yml (job "hop", one rules file, one Alertmanager)
    with loopback targets instead of compose service names.
    """
    seconds = parse_duration(scrape_interval)
    timeout = scrape_interval if seconds < 10 else "10s"
    targets = ", ".join(f'"{t}"' for t in hop_targets)
    auth = ""
    if metrics_token_file:
        auth = (f"    authorization:\n      type: Bearer\n"
                f"      credentials_file: {metrics_token_file}\n")
    Path(dst).write_text(
        "# Generated by scripts/monitoring/hopmon.py from deploy/monitoring/prometheus.yml.\n"
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  scrape_timeout: {timeout}\n"
        f"  evaluation_interval: {evaluation_interval}\n"
        "rule_files:\n"
        f"  - {rules_file}\n"
        "alerting:\n"
        "  alertmanagers:\n"
        "    - static_configs:\n"
        f'        - targets: ["{alertmanager_target}"]\n'
        "scrape_configs:\n"
        "  - job_name: hop\n"
        "    metrics_path: /metrics\n"
        f"{auth}"
        "    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )


def prometheus_argv(config, data_dir, port):
    return [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--web.external-url=http://{LOOPBACK}:{port}/",
    ]


def alertmanager_argv(config, data_dir, port):
    return [
        "prometheus-alertmanager",
        f"--config.file={config}",
        f"--storage.path={data_dir}",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--web.external-url=http://{LOOPBACK}:{port}/",
        # An empty address turns clustering (gossip on 0.0.0.0:9094) off: one instance, and
        # nothing listening beyond loopback.
        "--cluster.listen-address=",
    ]


# Variables hop reads that must come from the caller of hop_env, never from whoever runs the
# script: hop rejects unknown HOP_* variables (HOP_BIN would stop it), and a DATABASE_URL,
# REDIS_URL or RUST_LOG from the shell would silently change what is being tested.
_HOP_INHERITED = ("DATABASE_URL", "REDIS_URL", "RUST_LOG")


def hop_env(listen, db_dir, extra=None):
    """The whole environment for `hop serve` on SQLite in db_dir."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("HOP_") and key not in _HOP_INHERITED}
    env.update({
        "HOP_LISTEN": listen,
        "DATABASE_URL": f"sqlite://{db_dir}/hop.db",
        "HOP_LOG": "info",
    })
    env.update(extra or {})
    return env


# --- Dashboard -------------------------------------------------------------------------------

# Grafana's built-in variables and the dashboard's own ones, with the values used when a
# query is run outside Grafana.
DASHBOARD_VARIABLES = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "${instance:regex}": ".*",
    "$instance": ".*",
    "${instance}": ".*",
}


def dashboard_panels(path=DASHBOARD):
    """Every panel that shows data (rows excluded), nested row panels included."""
    board = json.loads(Path(path).read_text())
    panels = []
    for panel in board["panels"]:
        if panel.get("type") == "row":
            panels.extend(panel.get("panels") or [])
        else:
            panels.append(panel)
    return board, panels


def expand_variables(expr):
    for name in sorted(DASHBOARD_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, DASHBOARD_VARIABLES[name])
    return expr


def dashboard_queries(path=DASHBOARD):
    """(panel title, refId, PromQL with variables expanded) for every panel target."""
    _, panels = dashboard_panels(path)
    return [
        (panel["title"], target.get("refId", "?"), expand_variables(target["expr"]))
        for panel in panels
        for target in panel.get("targets") or []
    ]


# --- Load ------------------------------------------------------------------------------------


def generate_load(hop_url, redirects=300, links=30, users=10, probes=20, misses=20):
    """A short, bounded burst of every kind of request hop serves.

    Returns {description: (expected status, [statuses seen])} so callers can check them.
    """
    seen = {}

    def call(label, expected, method, path, body=None):
        status, _, raw = http_request(method, hop_url + path, body=body)
        seen.setdefault(label, (expected, []))[1].append(status)
        return status, raw

    for _ in range(probes):
        call("GET /health", 200, "GET", "/health")
    call("GET /ready", 200, "GET", "/ready")

    run = f"{os.getpid()}{int(time.time())}"
    user_ids = []
    for i in range(users):
        body = {"username": f"load{run}u{i}", "email": f"load{run}u{i}@example.com"}
        status, raw = call("POST /users", 201, "POST", "/users", body)
        if status == 201:
            user_ids.append(json.loads(raw)["id"])

    codes = []
    for i in range(links if user_ids else 0):
        body = {"user_id": user_ids[i % len(user_ids)],
                "original_url": f"https://example.com/load/{run}/{i}"}
        status, raw = call("POST /urls", 201, "POST", "/urls", body)
        if status == 201:
            codes.append(json.loads(raw)["short_code"])

    for i in range(redirects if codes else 0):
        call("GET /{code}", 302, "GET", f"/{codes[i % len(codes)]}")
    for i in range(misses):
        call("GET /{code} (unknown)", 404, "GET", f"/zz{run}{i}")
    return seen


# --- Reporting -------------------------------------------------------------------------------


class Checks:
    """Counts named checks and prints the closing 'N passed, M failed' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1
