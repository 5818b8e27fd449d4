"""Turns the phases' readings into the figures: one labelled line each, and a Markdown table.

Every figure is a ratio or a count from the same run. Labels are stable (the smoke test looks for
them); a figure that could not be measured prints "n/a" with the reason, never a made-up number.
"""

from __future__ import annotations

from typing import Any

LABELS = {
    "a": "(a) sequential round trips",
    "b": "(b) notice->Running / floor",
    "c": "(c) ours / old tool (notice->Running)",
    "d": "(d) Running before release",
    "e": "(e) mass reclaim / qps bound",
    "e-topology": "(e) by topology (e1 in-process, e2 serve, e2-spread, e3 built-in)",
    "f": "(f) cold start vs python -c pass",
    "g": "(g) CPU per incident",
    "h": "(h) peak RSS of the function",
    "i": "(i) scenario matrix (correct replacements)",
    "j": "(j) data kept (markers on the replacement)",
    "k": "(k) notice->Running against data size",
    "l": "(l) user-visible outage against data size",
    "n": "(n) API calls per incident",
}
TARGETS = {"b": "<= 1.05", "d": "100%", "e": "<= 1.15", "n": "<= 20", "h": "<= 200 MiB", "j": "100%",
           "k": "before the release, flat", "l": "<= 60 s same zone"}
TOOLS = (("ours", "ours"), ("baseline", "old"))


def _num(value: Any, fmt: str = "{:.3f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def _ratio(a: Any, b: Any) -> float | None:
    return a / b if a is not None and b else None


def figures(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, value, detail) per figure, in order."""
    pair, share, mass, cold, matrix = (r.get(k, {}) for k in ("pair", "share", "mass", "coldstart", "matrix"))
    ours, old = pair.get("ours", {}), pair.get("baseline", {})
    out = [
        ("a", f"ours {ours.get('rt_notice_to_create', 'n/a')} + {ours.get('rt_ready_to_run', 'n/a')}, "
              f"old {old.get('rt_notice_to_create', 'n/a')} + {old.get('rt_ready_to_run', 'n/a')}",
         "notice->first image write (CreateImage, or CreateSnapshot of the system disk) + image ready->RunInstances "
         "(ready: Usable for ours, Available for the old tool); "
         "measured gap between the old tool's sequential calls "
         f"{_num(old.get('round_trip_ms'), '{:.0f}')} ms emulated (modelled latency + client work x scale)"),
        ("b", _num(_ratio(ours.get("notice_to_running_s"), ours.get("floor_s"))),
         f"{_num(ours.get('notice_to_running_s'), '{:.1f}')} s / floor {_num(ours.get('floor_s'), '{:.1f}')} s "
         f"(image usable after {_num(ours.get('image_usable_s'), '{:.0f}')} s of its "
         f"{_num(ours.get('image_available_s'), '{:.0f}')} s build"
         + (f" (system disk snapshot {ours['snapshot_s']:.0f} s, then the image from it)" if "snapshot_s" in ours
            else "")
         + f" + boot {_num(ours.get('boot_s'), '{:.0f}')} s + {1 + ours.get('image_steps', 1)} x latency)"),
        ("c", _num(_ratio(ours.get("notice_to_running_s"), old.get("notice_to_running_s"))),
         f"{_num(ours.get('notice_to_running_s'), '{:.1f}')} s vs {_num(old.get('notice_to_running_s'), '{:.1f}')} s"
         + ("" if old.get("notice_to_running_s") is not None or not old else
            f" (the old tool replaced nothing: {_why(old)})")),
    ]
    so, sb = share.get("ours", {}), share.get("baseline", {})
    out.append(("d", f"ours {_share(so)}, old {_share(sb)}",
                f"image builds {', '.join(f'{b:.0f}' for b in so.get('builds_s', []))} s (no instant access); "
                f"notice {r.get('notice_s')} s"
                + "".join(f"; {tool} {n} failed: {m}" for tool, s in (("ours", so), ("old", sb))
                          for m, n in s.get("failures", []))))
    out.append(("e", _mass(mass),
                f"{mass.get('replaced', 'n/a')}/{mass.get('total', 'n/a')} replaced in "
                f"{_num(mass.get('elapsed_s'), '{:.1f}')} s, bound {_num(mass.get('bound_s'), '{:.1f}')} s "
                f"(image usable {_num(mass.get('image_usable_s'), '{:.0f}')} s + boot + "
                f"{1 + mass.get('image_steps', 1)} x latency + queueing) "
                f"({mass.get('qps', 'n/a')} calls/s per action, burst {_num(mass.get('burst'), '{:.0f}')}); "
                f"{mass.get('throttled_calls', 'n/a')} calls throttled"
                + "".join(f"; {n} failed: {m}" for m, n in mass.get("failures", []))))
    out.append(("e-topology", _topology(r.get("topology")),
                "e2 is the default deployment (custom runtime, instanceConcurrency 100, `serve`); see the "
                "topology lines below" if r.get("topology") else ""))
    out.append(("f", _cold(cold), _cold_detail(cold)))
    out.append(("g", _num(ours.get("cpu_s"), "{:.3f} s"), f"old tool's replay {_num(old.get('cpu_s'), '{:.3f} s')}"))
    out.append(("h", _num(ours.get("peak_rss_mib"), "{:.0f} MiB"),
                f"{mass.get('total', 'n/a')} concurrent incidents in one process (e): "
                f"{_num(mass.get('peak_rss_mib'), '{:.0f} MiB')}"))
    out.append(("i", _matrix_total(matrix), "per scenario below"))
    out += _data(r.get("data", {}))
    out.append(("n", _calls(r.get("calls", {}), mass), _calls_detail(r.get("calls", {}), mass)))
    return out


def _calls(c: dict[str, Any], mass: dict[str, Any]) -> str:
    """Happy path per case (ours first incident of a process / warm / old tool), then the wave's mean."""
    if not c:
        return "n/a"
    parts = []
    for case, row in c.items():
        cells = [f"{label} {row[k]['calls']}" for k, label in (("ours", "ours"), ("ours_warm", "warm"),
                                                               ("baseline", "old")) if k in row]
        parts.append(f"{case}: {', '.join(cells)}")
    if mass.get("calls_per_incident") is not None:
        parts.append(f"wave: ours {mass['calls_per_incident']:.1f}")
    return "; ".join(parts)


def _calls_detail(c: dict[str, Any], mass: dict[str, Any]) -> str:
    out = []
    for case, row in c.items():
        for key in ("ours", "baseline"):
            if key in row:
                actions = ", ".join(f"{a} {n}" for a, n in row[key]["per_action"].items())
                out.append(f"{case}, {'ours' if key == 'ours' else 'old'}: {actions}")
    if mass.get("per_action"):
        out.append("wave, ours per incident: " + ", ".join(f"{a} {n:.1f}" for a, n in mass["per_action"].items()))
    return "; ".join(out)


def _cases(d: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """(zone case, data GiB, {tool: row}) in order: same zone first, then by size (JSON makes the sizes strings)."""
    return [(case, int(gib), tools) for case in ("same", "cross") for gib, tools in
            sorted(d.get(case, {}).items(), key=lambda kv: int(kv[0]))]


def _kept(row: dict[str, Any]) -> str:
    if not row:
        return "n/a"
    if not row.get("markers_total"):
        return "no data disk"
    pct = 100 * row["markers_found"] / row["markers_total"]
    return f"{row['markers_found']}/{row['markers_total']} ({pct:.0f}%)"


def _running(row: dict[str, Any]) -> str:
    if row.get("notice_to_running_s") is None:
        return f"never ({row.get('why') or 'n/a'})"
    return f"{row['notice_to_running_s']:.0f} s" + ("" if row.get("running_before_release") else " (after the release)")


def _outage(row: dict[str, Any]) -> str:
    if row.get("outage_s") is None:
        return f"never ({row.get('why') or 'n/a'})"
    return f"{row['outage_s']:.0f} s"


def _data(d: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(j), (k), (l): a summary per tool; every case in the detail line (and in the Markdown table)."""
    cases = _cases(d)
    if not cases:
        return [(k, "n/a", "") for k in "jkl"]
    label = {"same": "same zone", "cross": "cross zone"}

    def detail(fmt: Any) -> str:
        return "; ".join(f"{label[c]} {g} GiB: " + ", ".join(f"{name} {fmt(t.get(tool, {}))}" for tool, name in TOOLS)
                         for c, g, t in cases)

    j = []
    for tool, name in TOOLS:
        rows = [t.get(tool, {}) for _, _, t in cases if t.get(tool, {}).get("markers_total")]
        found, total = sum(r["markers_found"] for r in rows), sum(r["markers_total"] for r in rows)
        full = sum(r["markers_found"] == r["markers_total"] for r in rows)
        j.append(f"{name} {full}/{len(rows)} cases at 100% ({found}/{total} markers)")
    k = []
    for tool, name in TOOLS:
        rows = [t.get(tool, {}) for _, _, t in cases]
        times = [r["notice_to_running_s"] for r in rows if r.get("notice_to_running_s") is not None]
        before = sum(bool(r.get("running_before_release")) for r in rows)
        span = f", {min(times):.0f}-{max(times):.0f} s" if times else ""
        k.append(f"{name} {before}/{len(rows)} before the release{span}")
    lv = []
    for tool, name in TOOLS:
        parts = []
        for case in ("same", "cross"):
            rows = [t.get(tool, {}) for c, _, t in cases if c == case]
            times = [r["outage_s"] for r in rows if r.get("outage_s") is not None]
            if rows:
                missed = len(rows) - len(times)
                worst = [f"max {max(times):.0f} s"] if times else []
                worst += [f"never in {missed}/{len(rows)}"] if missed else []
                parts.append(f"{label[case]} {' and '.join(worst)}")
        lv.append(f"{name} " + ", ".join(parts))
    return [("j", "; ".join(j), detail(_kept)), ("k", "; ".join(k), detail(_running)),
            ("l", "; ".join(lv), detail(_outage))]


def _why(figures: dict[str, Any]) -> str:
    """What a tool said when it did not replace (its error, or what the emulator refused)."""
    message = figures.get("message") or ""
    refused = ", ".join(f"{code} x{n}" for code, n in figures.get("refused", {}).items())
    return (message[:90] or "no error") + (f"; refused calls: {refused}" if refused else "")


def _mass(m: dict[str, Any]) -> str:
    """The ratio only when every instance was replaced: a partial run's time says nothing."""
    if not m.get("total"):
        return "n/a"
    if m.get("replaced") != m["total"] or m.get("elapsed_s") is None:
        return f"missed: {m.get('replaced', 0)}/{m['total']} replaced"
    return f"{m['elapsed_s'] / m['bound_s']:.3f}"


def _topology(t: dict[str, Any] | None) -> str:
    if not t:
        return "n/a"
    from bench.topology import summary

    return summary(t)


def _share(s: dict[str, Any]) -> str:
    if not s.get("total"):
        return "n/a"
    return f"{s['in_time']}/{s['total']} ({100 * s['in_time'] / s['total']:.0f}%)"


def _cold(c: dict[str, Any]) -> str:
    if not c:
        return "n/a"
    keys = ("import", "first_invoke", "cli_help")
    return ", ".join(f"{k} {c[k]['s']:.2f} s ({c[k]['x']:.1f}x)" for k in keys if k in c)


def _cold_detail(c: dict[str, Any]) -> str:
    if not c:
        return ""
    it = c.get("importtime", {})
    heavy = ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in it.get("heaviest", []))
    return (f"python -c pass {c.get('python_pass_s', 0):.3f} s; -X importtime cumulative "
            f"{it.get('cumulative_s', 0) * 1000:.0f} ms (heaviest: {heavy})")


def _matrix_total(m: dict[str, Any]) -> str:
    if not m:
        return "n/a"
    total = {tool: [0, 0] for tool in ("ours", "baseline")}
    for row in m.values():
        for tool in total:
            total[tool][0] += row.get(tool, {}).get("correct", 0)
            total[tool][1] += row.get(tool, {}).get("total", 0)
    return f"ours {total['ours'][0]}/{total['ours'][1]}, old {total['baseline'][0]}/{total['baseline'][1]}"


def _cell(c: dict[str, Any]) -> str:
    """"3/3", or "0/1 (why: what the tool said)" for a miss."""
    if not c:
        return "n/a"
    out = f"{c['correct']}/{c['total']}"
    if "lineage-fallback" in c.get("image_sources", []):
        out += " (launched from the lineage's earlier image)"
    if c["correct"] < c["total"]:
        said = sorted({s[:70] for s in c.get("said", []) if s})
        out += f" ({'; '.join(c['why'] + said)})"
    return out


def text(r: dict[str, Any]) -> str:
    time_scale = r.get("time_scale", r.get("scale"))
    lines = [f"aliyun-ops bench ({r.get('mode')}): scale x{time_scale}, latency {r.get('latency_ms')} ms "
             f"(+ measured overhead {r.get('overhead_ms', 0):.2f} ms real per call), {r.get('machine', '')}"]
    for key, value, detail in figures(r):
        target = f"  [target {TARGETS[key]}]" if key in TARGETS else ""
        lines.append(f"{LABELS[key]}: {value}{target}")
        if detail:
            lines.append(f"    {detail}")
    for row in r.get("matrix", {}).values():
        cells = [f"{tool} {_cell(row[tool])}" for tool in ("ours", "baseline") if tool in row]
        lines.append(f"    {row['title']}: {', '.join(cells)}")
    if isinstance(r.get("scale"), dict):  # the scale phase ran (else "scale" is the time scale)
        from bench.scale import report as scale_report

        lines.append(scale_report(r["scale"]))
    if r.get("topology"):
        from bench.topology import report as topology_report

        lines.append(topology_report(r["topology"]))
    if r.get("month"):
        from bench.month import report as month_report

        lines.append(month_report(r["month"]))
    lines.append(f"wall time {r.get('wall_s', 0):.1f} s")
    return "\n".join(lines)


def markdown(r: dict[str, Any]) -> str:
    """The headline table for docs/performance.md and the README."""
    rows = ["| figure | result | target | detail |", "|---|---|---|---|"]
    for key, value, detail in figures(r):
        rows.append(f"| {LABELS[key]} | {value} | {TARGETS.get(key, '')} | {detail} |")
    rows += ["", "| scenario | ours | old tool |", "|---|---|---|"]
    for row in r.get("matrix", {}).values():
        cells = [_cell(row.get(t, {})) for t in ("ours", "baseline")]
        rows.append(f"| {row['title']} | {cells[0]} | {cells[1]} |")
    cases = _cases(r.get("data", {}))
    if cases:
        rows += ["", "| zone | data | (j) kept, ours | (j) old | (k) notice->Running, ours | (k) old | "
                 "(l) outage, ours | (l) old |", "|---|---|---|---|---|---|---|---|"]
        for case, gib, t in cases:
            o, b = t.get("ours", {}), t.get("baseline", {})
            rows.append(f"| {case} | {gib} GiB | {_kept(o)} | {_kept(b)} | {_running(o)} | {_running(b)} | "
                        f"{_outage(o)} | {_outage(b)} |")
    return "\n".join(rows)
