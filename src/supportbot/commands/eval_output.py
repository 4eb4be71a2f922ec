"""`supportbot eval`'s output: the text report, the worst misses and the JSON lines."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from supportbot.domain.errors import EvalDataError

# How many ranked articles a message's row keeps (where the expected one ranked).
RANKING_DEPTH = 10
WORST_MISSES = 10


def worst_misses(rows: list[dict[str, Any]], limit: int = WORST_MISSES) -> list[dict[str, Any]]:
    """The misses a user would mind most: confident wrong answers first, then answerable
    messages whose article was ranked high but never shown."""
    wrong = sorted((r for r in rows if r["wrong_answer"]), key=lambda r: -r["confidence"])
    unseen = sorted(
        (r for r in rows if r["expected"] and not r["self_served"] and not r["wrong_answer"]),
        key=lambda r: (r["expected_rank"] or RANKING_DEPTH + 1, -r["confidence"]),
    )
    return (wrong + unseen)[:limit]


def _miss_line(row: dict[str, Any]) -> str:
    text = row["text"] if len(row["text"]) <= 60 else row["text"][:59] + "…"
    shown = ", ".join(row["shown"]) or "-"
    rank = row["expected_rank"] or "-"
    return (
        f"  {row['decision']:<7} {row['confidence']:.2f}  {text!r}\n"
        f"          expected {row['expected'] or '(none: out of scope)'} (rank {rank}); "
        f"shown {shown}"
    )


def strict(value: Any) -> Any:
    """`value` with every non-finite float (NaN, inf) turned into None, as JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def format_report(
    metrics: dict[str, Any],
    table: list[dict[str, float | None]],
    weights: Any,
    misses: Sequence[dict[str, Any]] = (),
) -> str:
    """The text report: metrics, the threshold table, the weights, the worst misses."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    def cell(value: float | None, width: int) -> str:
        return pct(value).ljust(width)

    lines = [
        f"queries: {metrics['n']} ({metrics['n_in_scope']} in scope, "
        f"{metrics['n_out_of_scope']} out of scope)",
        f"recall@1 {pct(metrics['recall_at_1'])}   recall@3 {pct(metrics['recall_at_3'])}   "
        f"MRR {pct(metrics['mrr'])}",
        f"handoff precision {pct(metrics['handoff_precision'])}   "
        f"handoff recall {pct(metrics['handoff_recall'])}   AUROC {pct(metrics['auroc'])}",
        f"self-service {pct(metrics['self_service'])}   "
        f"answers correct {pct(metrics['answer_precision'])}   "
        f"out-of-scope answered {pct(metrics['oos_answer_rate'])}",
        "decisions: " + ", ".join(f"{k} {v:.1%}" for k, v in metrics["decisions"].items()),
        f"latency per decision: p50 {metrics['p50_ms']:.1f} ms, p95 {metrics['p95_ms']:.1f} ms",
        "",
        "confidence threshold | share above | precision above | handoff precision/recall below",
    ]
    for row in table:
        lines.append(
            f"  {row['threshold']:.1f}               | {cell(row['share_above'], 11)} | "
            f"{cell(row['precision_above'], 15)} | {pct(row['handoff_precision_below'])} / "
            f"{pct(row['handoff_recall_below'])}"
        )
    lines.append("")
    lines.append(f"fusion weights: {json.dumps(weights)}")
    if misses:
        lines += ["", f"worst misses ({len(misses)}):", *(_miss_line(row) for row in misses)]
    return "\n".join(lines)


def write_details(path: Path, rows: list[dict[str, Any]]) -> None:
    """`--details`: one JSON line per message (NaN written as null)."""
    try:
        with path.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(strict(row), ensure_ascii=False) + "\n")
    except OSError as exc:
        raise EvalDataError(f"Cannot write {path}: {exc.strerror or exc}") from None
