"""The HTML report for people: summary table, pass^k chart, per-case transcripts with tool
calls and retrieved context, failed expectations highlighted. One self-contained file."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.passed{color:#17692f}.failed,.error{color:#b00020}.flaky{color:#b26a00}.skipped{color:#777}
details{margin:4px 0;border:1px solid #ddd;border-radius:4px;padding:4px 8px}
.turn{margin:6px 0 6px 12px}.customer{color:#0b3d91}.agent{color:#333}
.fail{background:#fde7ea;border-left:4px solid #b00020;padding:2px 6px;margin:2px 0}
.meta{color:#666;font-size:12px}code{font-size:12px}
"""


LABEL = 'font-size="10" text-anchor="middle"'
# Counts the gate requires to be 0, shown per suite beside the pass rate.
GATE_COUNTS = (
    ("forbidden_calls", "forbidden calls"),
    ("wrong_lost_marks", "wrong lost marks"),
    ("attack_successes", "successful attacks"),
)


def _e(value: Any) -> str:
    return escape(str(value))


def pass_k_chart(values: dict[str, float | None], width: int = 360, height: int = 160) -> str:
    """An inline SVG line chart of pass^k for k = 1..n."""
    points = [(int(k), v) for k, v in values.items() if v is not None]
    if not points:
        return "<p class=meta>no pass^k values</p>"
    pad, n = 30, max(k for k, _ in points)

    def x(k: int) -> float:
        return pad + (k - 1) * (width - 2 * pad) / max(n - 1, 1)

    def y(v: float) -> float:
        return height - pad - v * (height - 2 * pad)

    path = " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in points)
    dots = "".join(
        f'<circle cx="{x(k):.1f}" cy="{y(v):.1f}" r="3"/>'
        f'<text x="{x(k):.1f}" y="{y(v) - 7:.1f}" {LABEL}>{v:.2f}</text>'
        f'<text x="{x(k):.1f}" y="{height - 10}" {LABEL}>k={k}</text>'
        for k, v in points
    )
    axes = (
        f'<line x1="{pad}" y1="{y(0)}" x2="{width - pad}" y2="{y(0)}" stroke="#999"/>'
        f'<line x1="{pad}" y1="{y(0)}" x2="{pad}" y2="{y(1)}" stroke="#999"/>'
        f'<text x="4" y="{y(1) + 4}" font-size="10">1.0</text>'
        f'<text x="4" y="{y(0) + 4}" font-size="10">0.0</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="pass^k chart">{axes}'
        f'<polyline fill="none" stroke="#17692f" stroke-width="2" points="{path}"/>{dots}</svg>'
    )


def _count_cell(value: Any) -> str:
    """A count the gate requires to be 0: red when it is not."""
    return f"<td class=failed>{_e(value)}</td>" if value else f"<td>{_e(value)}</td>"


def _pass_k_text(values: dict[str, float | None]) -> str:
    return " ".join(f"{k}:{v}" for k, v in values.items() if v is not None) or "—"


def _metrics_table(metrics: dict[str, Any]) -> str:
    keys = [k for k in metrics if k not in ("pass_hat_k", "attack_success", "statuses")]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(metrics[k])}</td></tr>" for k in keys)
    rows += f"<tr><th>statuses</th><td>{_e(metrics['statuses'])}</td></tr>"
    for category, a in metrics["attack_success"].items():
        rows += (
            f"<tr><th>attack success: {_e(category)}</th><td>{a['successes']}/{a['attempts']}"
            f" ({_e(a['rate'])})</td></tr>"
        )
    return f"<table>{rows}</table>"


def _turn_html(turn: dict[str, Any], failures: list[dict[str, Any]]) -> str:
    if turn["kind"] == "event":
        outcome = turn.get("result") or turn.get("error")
        return f"<div class=turn>⚑ event <code>{_e(turn['event'])}</code> → {_e(outcome)}</div>"
    who = "" if turn["contact"] == "customer" else f" ({_e(turn['contact'])})"
    out = [f"<div class=turn><div class=customer>🧑 customer{who}: {_e(turn['text'])}</div>"]
    if turn.get("reply"):
        out.append(f"<div class=agent>🤖 {_e(turn['reply'])}</div>")
    else:
        out.append("<div class=meta>(no reply)</div>")
    for call in turn.get("tool_calls", []):
        out.append(
            f"<div class=meta>tool <code>{_e(call['name'])}({_e(call['args'])})</code> → "
            f"{_e(call['status'])}: {_e(call['result'])}</div>"
        )
    if turn.get("retrieved"):
        items = "".join(
            f"<li>{_e(r['score'])} <b>{_e(r['question'])}</b> {_e(r.get('answer', ''))}</li>"
            for r in turn["retrieved"]
        )
        out.append(
            f"<details><summary class=meta>retrieved context</summary><ul>{items}</ul></details>"
        )
    out.append(
        f"<div class=meta>{_e(turn.get('brain'))} · {_e(turn.get('model'))} · "
        f"{_e(turn.get('prompt_version'))} · {_e(turn.get('latency_ms'))} ms · "
        f"{_e(turn.get('model_calls'))} calls · {_e(turn.get('input_tokens'))}/"
        f"{_e(turn.get('output_tokens'))} tokens</div>"
    )
    out += [f"<div class=fail>✗ {_e(f['expectation'])}: {_e(f['message'])}</div>" for f in failures]
    out.append("</div>")
    return "".join(out)


def _trial_html(result: dict[str, Any]) -> str:
    by_turn: dict[int | None, list[dict[str, Any]]] = {}
    for f in result["failures"]:
        by_turn.setdefault(f.get("turn"), []).append(f)
    parts, message_index = [], 0
    for turn in result["transcript"]:
        failures: list[dict[str, Any]] = []
        if turn["kind"] == "message":
            failures = by_turn.get(message_index, [])
            message_index += 1
        parts.append(_turn_html(turn, failures))
    parts += [
        f"<div class=fail>✗ {_e(f['expectation'])}: {_e(f['message'])}</div>"
        for f in by_turn.get(None, [])
    ]
    flagged = result.get("wrong_lost_marks") or []
    parts += [
        f"<div class=fail>✗ wrong lost mark: contact '{_e(who)}' was marked lost, and the case "
        "does not expect a lost mark</div>"
        for who in flagged
    ]
    if result.get("reason"):
        parts.append(f"<div class=meta>{_e(result['status'])}: {_e(result['reason'])}</div>")
    return (
        f"<details {'open' if result['status'] == 'failed' or flagged else ''}><summary>trial "
        f"{result['trial']}: <span class={result['status']}>{result['status']}</span> "
        f"({result['seconds']} s)</summary>{''.join(parts)}</details>"
    )


def render_html(report: dict[str, Any]) -> str:
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in report["results"]:
        results.setdefault((r["suite"], r["case"]), []).append(r)
    head = (
        f"<h1>Eval report {_e(report['run_id'])}</h1><p class=meta>model {_e(report['model'])}"
        f" · prompts {_e(report['prompt_versions'])} {_e(report.get('prompt_label') or '')} · "
        f"knowledge {_e(report['knowledge_version'])} · {report['trials']} trial(s)</p>"
    )
    summary = "<table><tr><th>suite</th><th>version</th><th>pass rate</th><th>threshold</th>"
    summary += "<th>pass^k</th><th>passed</th><th>failed</th><th>flaky</th><th>skipped</th>"
    summary += "<th>error</th>" + "".join(f"<th>{_e(label)}</th>" for _, label in GATE_COUNTS)
    summary += "</tr>"
    for s in report["suites"]:
        states = [c["status"] for c in s["cases"]]
        summary += (
            f"<tr><td><a href='#{_e(s['name'])}'>{_e(s['name'])}</a></td><td>{_e(s['version'])}"
            f"</td><td>{_e(s['metrics']['pass_rate'])}</td><td>{s['threshold']}</td>"
            f"<td>{_e(_pass_k_text(s['metrics']['pass_hat_k']))}</td>"
            + "".join(
                f"<td>{states.count(k)}</td>"
                for k in ("passed", "failed", "flaky", "skipped", "error")
            )
            + "".join(_count_cell(s["metrics"].get(k)) for k, _ in GATE_COUNTS)
            + "</tr>"
        )
    summary += "</table>"
    if report.get("gate"):
        verdict = report["gate"]
        reasons = "".join(f"<li>{_e(r)}</li>" for r in verdict["reasons"])
        comparison = verdict.get("comparison") or {}
        changes = "".join(
            f"<li class=failed>regressed {_e(r)}</li>" for r in comparison.get("regressions", [])
        ) + "".join(
            f"<li class=passed>improved {_e(r)}</li>" for r in comparison.get("improvements", [])
        )
        state = "passed" if verdict["passed"] else "failed"
        summary += f"<h2>Gate: <span class={state}>{state}</span></h2><ul>{reasons}{changes}</ul>"
    body = [
        head,
        "<h2>Summary</h2>",
        summary,
        "<h2>pass^k</h2>",
        pass_k_chart(report["metrics"]["pass_hat_k"]),
        "<h2>Metrics</h2>",
        _metrics_table(report["metrics"]),
    ]
    for s in report["suites"]:
        body.append(f"<h2 id='{_e(s['name'])}'>{_e(s['name'])} v{_e(s['version'])}</h2>")
        for c in s["cases"]:
            trials = "".join(_trial_html(r) for r in results.get((s["name"], c["id"]), []))
            flags = "".join(
                f" <span class=failed>{_e(c[k])} {_e(label)}</span>"
                for k, label in GATE_COUNTS
                if c.get(k)
            )
            is_open = c["status"] in ("failed", "flaky") or flags
            body.append(
                f"<details {'open' if is_open else ''}><summary>"
                f"<span class={c['status']}>{c['status']}</span> <b>{_e(c['id'])}</b> "
                f"{c['passed']}/{c['trials']}{flags} — {_e(c['description'])}</summary>"
                f"{trials}</details>"
            )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Eval report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
