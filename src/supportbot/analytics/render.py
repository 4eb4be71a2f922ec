"""Render a report as self-contained HTML (tables and embedded plots), Markdown, CSV or JSON."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportbot.analytics.report import Report, report_to_dict
from supportbot.analytics.texts import reason_text, text

_HEADLINE_KEYS = (
    "conversations",
    "deflection",
    "handoff_rate",
    "bot_first_response_median_s",
    "bot_first_response_p90_s",
    "first_response_median_s",
    "first_response_p90_s",
    "operator_response_median_s",
    "resolution_median_s",
    "bot_resolution_median_s",
    "ticket_resolution_median_s",
    "queue_wait_median_s",
    "queue_wait_p90_s",
    "csat",
    "rating_response_rate",
    "fcr",
    "tickets",
    "open_tickets",
)


MAX_ARTICLES = 15
"""Articles listed under "rewrite these first" at most (all are in the JSON)."""


def fmt_duration(seconds: float | None) -> str:
    """12 s, 4.5 min, 3.2 h, 1.5 d; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def fmt_value(key: str, value: Any) -> str:
    """A figure as people read it: percentages, durations or counts."""
    if value is None:
        return "—"
    if key.endswith("_s"):
        return fmt_duration(float(value))
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)


def fmt_change(key: str, now: Any, before: Any) -> str:
    """The change from the previous period, in the figure's own unit."""
    if now is None or before is None:
        return "—"
    delta = now - before
    if key.endswith("_s"):
        size = fmt_duration(abs(float(delta)))
        # What rounds to nothing is no change: never "-0 s".
        if size.replace("0", "").replace(".", "").strip() in {"s", "min", "h", "d"}:
            return "0 s"
        return ("+" if delta > 0 else "-") + size
    if isinstance(now, float) or isinstance(before, float):
        points = round(delta * 100, 1)
        return "0.0 pp" if points == 0 else f"{points:+.1f} pp"
    return f"{delta:+d}" if delta else "0"


def _tables(report: Report, lang: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table, shared by HTML, Markdown and CSV."""

    def t(key: str) -> str:
        return text(lang, key)

    d = report_to_dict(report)
    prev = d["previous"]
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    rows = [
        [t(k), fmt_value(k, d[k]), fmt_change(k, d[k], prev.get(k)), t(f"def_{k}")]
        for k in _HEADLINE_KEYS
    ]
    header = [t("metric"), t("value"), t("change"), t("definition")]
    tables.append((t("headline"), header, rows))
    rows = [
        [reason_text(lang, reason), str(v["count"]), fmt_value("share", float(v["share"]))]
        for reason, v in d["handoff_reasons"].items()
    ]
    tables.append((t("handoff_reasons"), [t("reason"), t("count"), t("share")], rows))
    rows = [
        [
            o["name"],
            str(o["tickets"]),
            fmt_duration(o["first_response_median_s"]),
            fmt_duration(o["first_response_p90_s"]),
            fmt_duration(o["response_median_s"]),
            fmt_duration(o["resolution_median_s"]),
            fmt_value("csat", o["csat"]),
            str(o["ratings"]),
            fmt_value("rating_response_rate", o["rating_response_rate"]),
            fmt_value("fcr", o["fcr"]),
        ]
        for o in d["operators"]
    ]
    header = [
        t("operator"),
        t("tickets"),
        t("first_response_median_s"),
        t("first_response_p90_s"),
        t("operator_response_median_s"),
        t("ticket_resolution_median_s"),
        t("csat"),
        t("ratings"),
        t("rating_response_rate"),
        t("fcr"),
    ]
    tables.append((f"{t('operators')} ({t('operators_note')})", header, rows))
    rows = [
        [
            a["title"] if a["title"] == a["article_id"] else f"{a['title']} ({a['article_id']})",
            f"{a['harm']:.0f}",
            str(a["shown"]),
            str(a["not_helpful"]),
            str(a["handoff_after"]),
            fmt_value("r", a["helpful_rate"]),
            fmt_value("r", a["handoff_after_rate"]),
        ]
        for a in d["articles"]
        if a["harm"] > 0
    ][:MAX_ARTICLES]
    header = [
        t("article"),
        t("harm"),
        t("shown"),
        t("not_helpful"),
        t("handoff_after"),
        t("helpful") + " %",
        t("handoff_after") + " %",
    ]
    tables.append((f"{t('articles')} ({t('def_harm')})", header, rows))
    for key, items in (("categories", d["categories"]), ("subcategories", d["subcategories"])):
        by_sub = key == "subcategories"
        rows = [
            [
                c["category"],
                *([c["subcategory"] or "—"] if by_sub else []),
                str(c["tickets"]),
                fmt_value("n", c["previous"]),
                "—" if c["change"] is None else (f"{c['change']:+d}" if c["change"] else "0"),
                fmt_value("r", c["change_rate"]),
            ]
            for c in items
        ]
        header = [
            t("category"),
            *([t("subcategory")] if by_sub else []),
            t("tickets"),
            t("previous"),
            t("change"),
            t("change") + " %",
        ]
        tables.append((t(key), header, rows))
    title = f"{t('gaps')} ({t('gap_total')}: {d['content_gap_messages']}"
    title += f"; {t('sampled')})" if d["content_gaps_sampled"] else ")"
    rows = [
        [
            str(g["size"]),
            g["suggested_title"],
            ", ".join(g["keywords"]),
            " | ".join(g["examples"]),
            "—"
            if g["nearest_article"] is None
            else f"{g['nearest_article']} ({g['nearest_similarity']:.2f})",
        ]
        for g in d["content_gaps"]
    ]
    header = [t("size"), t("suggested_title"), t("keywords"), t("examples"), t("nearest")]
    tables.append((title, header, rows))
    experiment = d.get("experiment")
    if experiment is not None:
        rows = []
        for arm in experiment["arms"]:
            cells = [arm["arm"], str(arm["conversations"])]
            for key in ("deflection", "handoff_rate", "csat"):
                e = arm[key]
                cells.append(
                    f"{fmt_value('r', e['value'])} [{fmt_value('r', e['low'])}; "
                    f"{fmt_value('r', e['high'])}] n={e['n']}"
                )
            e = arm["resolution_median_s"]
            cells.append(
                f"{fmt_duration(e['value'])} [{fmt_duration(e['low'])}; "
                f"{fmt_duration(e['high'])}] n={e['n']}"
            )
            rows.append(cells)
        header = [
            t("arm"),
            t("conversations"),
            t("deflection"),
            t("handoff_rate"),
            t("csat"),
            t("resolution_median_s"),
        ]
        tables.append((f"{t('experiment')}: {experiment['name']}", header, rows))
        rows = [
            [
                c["metric"],
                c["test"],
                "—" if c["p_value"] is None else f"{c['p_value']:.4f}",
                c["note"],
            ]
            for c in experiment["comparisons"]
        ]
        rows.append(["", "", "", experiment["verdict"]])
        tables.append(
            (
                f"{t('experiment')}: {experiment['name']}",
                [t("metric"), t("test"), t("p_value"), t("note")],
                rows,
            )
        )
    return tables


def _period_lines(report: Report, lang: str) -> list[str]:
    """What the period is: its bounds and zone, partial days, what it is compared with."""
    zone = report.timezone
    lines = [
        f"{text(lang, 'period')}: {_when(report.since, zone)} — {_when(report.until, zone)} "
        f"({text(lang, 'time_zone')} {zone})."
    ]
    if report.partial_days:
        lines.append(text(lang, "partial_days").format(days=", ".join(report.partial_days)))
    previous = f"{_when(report.previous.since, zone)} — {_when(report.previous.until, zone)}"
    key = "compared_with" if report.previous.has_data else "no_previous"
    lines.append(text(lang, key).format(period=previous))
    return lines


def to_json(report: Report) -> str:
    """The JSON form (see `report_to_dict`)."""
    return json.dumps(report_to_dict(report), ensure_ascii=False, indent=2)


def to_markdown(report: Report, lang: str = "en") -> str:
    """Markdown tables."""
    out = [f"# {text(lang, 'title')}", ""]
    for line in _period_lines(report, lang):
        out += [line, ""]
    for title, header, rows in _tables(report, lang):
        out += [f"## {title}", ""]
        if not rows:
            out += [f"_{text(lang, 'no_data')}_", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for row in rows:
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        out.append("")
    return "\n".join(out)


def to_csv(report: Report, lang: str = "en") -> str:
    """Every table one after another: a `section` column says which table a row is from."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for title, header, rows in _tables(report, lang):
        writer.writerow(["section", *header])
        for row in rows:
            writer.writerow([title, *row])
        writer.writerow([])
    return buffer.getvalue()


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c")  # one opaque colour per series, never blended


def _no_data(ax: Any, lang: str) -> None:
    ax.text(0.5, 0.5, text(lang, "no_data"), ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _daily_plot(report: Report, lang: str, fig: Any) -> None:
    ax = fig.subplots()
    daily = report.current.daily
    if not daily:
        _no_data(ax, lang)
        return
    x = list(range(len(daily)))
    series = (("conversations", 1), ("handoffs", 2), ("deflected", 3))
    for (key, column), colour in zip(series, _COLOURS, strict=True):
        ax.plot(x, [row[column] for row in daily], color=colour, marker=".", label=text(lang, key))
    partial = [i for i, row in enumerate(daily) if row[0] in report.partial_days]
    for i in partial:
        ax.axvspan(i - 0.5, i + 0.5, facecolor="none", edgecolor="#888", hatch="///", lw=0)
    if partial:
        ax.plot([], [], color="#888", lw=0, marker="s", mfc="none", label=text(lang, "partial"))
    # At most ~10 date labels, level: every day labelled is unreadable past two weeks.
    step = max(1, -(-len(daily) // 10))
    ticks = x[::step]
    ax.set_xticks(ticks, [daily[i][0][5:] for i in ticks])
    ax.set_xlim(-0.6, len(daily) - 0.4)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"{text(lang, 'date')} ({report.timezone})")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=4, frameon=False)


def _load_plot(report: Report, lang: str, fig: Any) -> None:
    ax = fig.subplots()
    load = [float("nan") if v is None else v for v in report.current.hourly_load]
    if not any(v == v for v in load):  # NaN != NaN: hours without data are left out
        _no_data(ax, lang)
        return
    ax.bar(range(len(load)), load, color=_COLOURS[0])
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel(f"{text(lang, 'hour')} ({report.timezone})")
    ax.set_ylabel(text(lang, "open_at_once"))
    ax.grid(axis="y", alpha=0.3)


def _frt_plot(report: Report, lang: str, fig: Any) -> None:
    import numpy as np

    ax = fig.subplots()
    minutes = report.current.first_response_s / 60.0
    if not minutes.size:
        _no_data(ax, lang)
        return
    # The longest 1% would stretch the axis over empty space: they go in the last bin.
    top = float(np.percentile(minutes, 99)) or 1.0
    ax.hist(np.minimum(minutes, top), bins=40, range=(0, top), color=_COLOURS[0])
    ax.set_xlabel(text(lang, "minutes"))
    ax.set_ylabel(text(lang, "tickets"))
    ax.grid(axis="y", alpha=0.3)


def _categories_plot(report: Report, lang: str, fig: Any) -> None:
    ax = fig.subplots()
    cats = report.categories[:12]
    if not cats:
        _no_data(ax, lang)
        return
    y = list(range(len(cats)))
    # Side by side, opaque: overlapping translucent bars blend into a third colour that
    # matches neither legend entry.
    height = 0.4 if report.previous.has_data else 0.7
    ax.barh(
        [i - height / 2 if report.previous.has_data else i for i in y],
        [c.tickets for c in cats],
        height=height,
        color=_COLOURS[0],
        label=text(lang, "this_period"),
    )
    if report.previous.has_data:
        ax.barh(
            [i + height / 2 for i in y],
            [c.previous or 0 for c in cats],
            height=height,
            color=_COLOURS[1],
            label=text(lang, "previous"),
        )
    ax.set_yticks(y, [c.category for c in cats])
    ax.invert_yaxis()
    ax.set_xlabel(text(lang, "tickets"))
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, frameon=False)


def plots(report: Report, lang: str) -> list[tuple[str, str]]:
    """(title, data: URI of a PNG) for each plot."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the report is written to a file
    from matplotlib.figure import Figure

    # Font-cache and unit notes are INFO lines on stderr of a command whose user only asked
    # for a file.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)

    out: list[tuple[str, str]] = []
    for key, draw in (
        ("plot_daily", _daily_plot),
        ("plot_load", _load_plot),
        ("plot_frt", _frt_plot),
        ("plot_categories", _categories_plot),
    ):
        fig = Figure(figsize=(8, 3.2), layout="constrained")
        draw(report, lang, fig)
        fig.suptitle(text(lang, key))
        out.append((text(lang, key), _png(fig)))
    return out


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} img{max-width:100%;display:block;margin:1em 0}
"""


def to_html(report: Report, lang: str = "en") -> str:
    """One self-contained HTML page: no external files, plots embedded as data: URIs."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
        f"<title>{e(text(lang, 'title'))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(text(lang, 'title'))}</h1>",
    ]
    parts += [f"<p>{e(line)}</p>" for line in _period_lines(report, lang)]
    for title, uri in plots(report, lang):
        parts.append(f'<figure><img alt="{e(title)}" src="{uri}"></figure>')
    for title, header, rows in _tables(report, lang):
        parts.append(f"<h2>{e(title)}</h2>")
        if not rows:
            parts.append(f"<p><em>{e(text(lang, 'no_data'))}</em></p>")
            continue
        parts.append(_html_table(header, rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(moment: datetime, timezone: str) -> str:
    """A period boundary as a lead reads it: local date and minute."""
    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment
    return local.strftime("%Y-%m-%d %H:%M")
