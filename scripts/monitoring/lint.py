#!/usr/bin/env python3
"""Static checks of hop's monitoring files, one per sub-command, for scripts/ci/monitoring-checks.

    lint.py alert-fields       every alert has severity, summary, description, runbook_url
    lint.py runbook-anchors    every runbook_url points at a heading of docs/runbook.md
    lint.py runbook-sections   every alert's runbook section states its time to page
    lint.py alert-tests        every alert has a firing case in alerts.test.yml
    lint.py dashboard          hop.json parses; every panel has targets on datasource uid
                               "prometheus"; panel ids are unique
    lint.py dashboard-rules F  writes every panel query as a recording rule into F, so that
                               `promtool check rules F` parses all of them offline
    lint.py dashboard-docs     every panel is in the table of docs/observability.md
    lint.py provisioning       Grafana provisioning points at uid prometheus and
                               /var/lib/grafana/dashboards
    lint.py no-secrets         no real Discord webhook URL in the repository's monitoring files

Each prints what it found and exits 1 on a problem. Needs PyYAML (scripts/monitoring/install).
"""

import json
import re
import sys
import unicodedata
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hopmon  # noqa: E402

REPO = hopmon.REPO
RUNBOOK = REPO / "docs" / "runbook.md"
OBSERVABILITY = REPO / "docs" / "observability.md"
TESTS = hopmon.MONITORING / "alerts.test.yml"
RUNBOOK_BASE = "https://github.com/hop-shortener/hop/blob/main/docs/runbook.md#"
SEVERITIES = {"critical", "warning"}


def alert_rules():
    groups = yaml.safe_load(hopmon.ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading: lowercase, punctuation dropped, spaces to
    hyphens (letters, digits, '-' and '_' are kept)."""
    text = heading.strip().lower()
    kept = [c for c in text
            if c in " -_" or unicodedata.category(c)[0] in ("L", "N")]
    return "".join(kept).replace(" ", "-")


def runbook_sections():
    """{anchor: section text} for every heading of docs/runbook.md, duplicates numbered the
    way GitHub numbers them (-1, -2, ...)."""
    sections, counts, current = {}, {}, None
    in_code = False
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = None if in_code else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            anchor = github_anchor(heading.group(1))
            n = counts.get(anchor, 0)
            counts[anchor] = n + 1
            current = anchor if n == 0 else f"{anchor}-{n}"
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def fail_if(problems, ok_message):
    for problem in problems:
        print(f"  {problem}")
    if problems:
        return 1
    print(f"  {ok_message}")
    return 0


def cmd_alert_fields():
    problems = []
    rules = alert_rules()
    for rule in rules:
        name = rule["alert"]
        severity = (rule.get("labels") or {}).get("severity")
        if severity not in SEVERITIES:
            problems.append(f"{name}: labels.severity is {severity!r}, not critical|warning")
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not str(annotations.get(key) or "").strip():
                problems.append(f"{name}: annotations.{key} is missing or empty")
        if "$value" not in str(annotations.get("description") or ""):
            problems.append(f"{name}: description does not show the live {{{{ $value }}}}")
        if "for" not in rule:
            problems.append(f"{name}: no for: (write for: 0m to fire at once, on purpose)")
    return fail_if(problems, f"{len(rules)} alerts have severity, summary, description "
                             "with $value, runbook_url and for:")


def cmd_runbook_anchors():
    anchors = runbook_sections()
    problems = []
    for rule in alert_rules():
        url = str((rule.get("annotations") or {}).get("runbook_url") or "")
        if not url.startswith(RUNBOOK_BASE):
            problems.append(f"{rule['alert']}: runbook_url {url!r} does not start with "
                            f"{RUNBOOK_BASE}")
            continue
        anchor = url[len(RUNBOOK_BASE):]
        if anchor not in anchors:
            problems.append(f"{rule['alert']}: no heading in docs/runbook.md has anchor "
                            f"#{anchor}")
        elif anchor != github_anchor(rule["alert"]):
            problems.append(f"{rule['alert']}: anchor #{anchor} is not the alert's own "
                            "section")
    return fail_if(problems, "every runbook_url anchor is a heading of docs/runbook.md")


def cmd_runbook_sections():
    sections = runbook_sections()
    problems = []
    for rule in alert_rules():
        text = sections.get(github_anchor(rule["alert"]), "")
        if not re.search(r"time to page", text, re.I):
            problems.append(f"{rule['alert']}: its runbook section does not state the "
                            "time to page")
        for part in ("confirm", "mitigat", "recover"):
            if part not in text.lower():
                problems.append(f"{rule['alert']}: its runbook section says nothing "
                                f"about '{part}...'")
    return fail_if(problems, "every alert's runbook section states time to page, how to "
                             "confirm, mitigate and verify recovery")


def cmd_alert_tests():
    tests = yaml.safe_load(TESTS.read_text())["tests"]
    firing = set()
    for test in tests:
        for case in test.get("alert_rule_test") or []:
            if case.get("exp_alerts"):
                firing.add(case["alertname"])
    problems = [f"{rule['alert']}: no test case expects it to fire"
                for rule in alert_rules() if rule["alert"] not in firing]
    return fail_if(problems, f"every alert has a firing case ({len(firing)} alerts)")


def cmd_dashboard():
    board, panels = hopmon.dashboard_panels()
    problems = []
    ids = [p.get("id") for p in board["panels"]] + [p.get("id") for p in panels
                                                     if p not in board["panels"]]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    for panel in panels:
        title = panel.get("title") or f"id {panel.get('id')}"
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"panel {title!r} has no targets")
        if (panel.get("datasource") or {}).get("uid") != "prometheus":
            problems.append(f"panel {title!r}: datasource uid is not prometheus")
        for target in targets:
            if (target.get("datasource") or {}).get("uid") != "prometheus":
                problems.append(f"panel {title!r} target {target.get('refId')}: "
                                "datasource uid is not prometheus")
            if not str(target.get("expr") or "").strip():
                problems.append(f"panel {title!r} target {target.get('refId')}: no expr")
    return fail_if(problems, f"{len(panels)} panels, each with targets on datasource uid "
                             "prometheus")


def cmd_dashboard_rules(path):
    rules = [{"record": f"hop_dashboard:query_{i}", "expr": expr}
             for i, (_, _, expr) in enumerate(hopmon.dashboard_queries())]
    Path(path).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    print(f"  wrote {len(rules)} panel queries to {path}")
    return 0


def cmd_dashboard_docs():
    doc = OBSERVABILITY.read_text()
    table_titles = set()
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 4:
            table_titles.add(cells[1])
    _, panels = hopmon.dashboard_panels()
    problems = [f"panel {p['title']!r} is not in the panel table of docs/observability.md"
                for p in panels if p["title"] not in table_titles]
    return fail_if(problems, f"all {len(panels)} panels are documented")


def cmd_provisioning():
    grafana = hopmon.MONITORING / "grafana" / "provisioning"
    problems = []
    sources = yaml.safe_load((grafana / "datasources" / "prometheus.yml").read_text())
    if not any(s.get("uid") == "prometheus" and s.get("type") == "prometheus"
               for s in sources.get("datasources") or []):
        problems.append("no prometheus datasource with uid prometheus")
    boards = yaml.safe_load((grafana / "dashboards" / "hop.yml").read_text())
    paths = [(p.get("options") or {}).get("path") for p in boards.get("providers") or []]
    if "/var/lib/grafana/dashboards" not in paths:
        problems.append(f"dashboard provider path is {paths}, not /var/lib/grafana/dashboards")
    return fail_if(problems, "datasource uid prometheus; dashboards from "
                             "/var/lib/grafana/dashboards")


def cmd_no_secrets():
    pattern = re.compile(r"discord(app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}")
    roots = [hopmon.MONITORING, REPO / "scripts", REPO / "docs"]
    problems = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and pattern.search(path.read_text(errors="ignore")):
                problems.append(f"{path.relative_to(REPO)} contains a Discord webhook URL")
    return fail_if(problems, "no Discord webhook URL committed")


COMMANDS = {
    "alert-fields": cmd_alert_fields,
    "runbook-anchors": cmd_runbook_anchors,
    "runbook-sections": cmd_runbook_sections,
    "alert-tests": cmd_alert_tests,
    "dashboard": cmd_dashboard,
    "dashboard-rules": cmd_dashboard_rules,
    "dashboard-docs": cmd_dashboard_docs,
    "provisioning": cmd_provisioning,
    "no-secrets": cmd_no_secrets,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    try:
        sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        print(f"  {type(error).__name__}: {error}")
        sys.exit(1)
