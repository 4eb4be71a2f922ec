"""`supportbot eval`: retrieval quality and decision quality on a labelled set of messages."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from supportbot.app import build_knowledge, open_database
from supportbot.config import load_settings
from supportbot.domain.errors import EvalDataError
from supportbot.domain.models import Decision, DecisionKind
from supportbot.retrieval.fusion import auroc
from supportbot.retrieval.suggester import HybridSuggester, weights_table

RANKING_DEPTH = 10
METRIC_KEYS = (
    "recall_at_1",
    "recall_at_3",
    "mrr",
    "handoff_precision",
    "handoff_recall",
    "auroc",
)


def register(subparsers: Any, name: str) -> None:
    """Add the `eval` subcommand."""
    parser = subparsers.add_parser(
        name,
        help="measure retrieval and decisions on labelled messages",
        description='FILE.jsonl: one {"text": ..., "expected": <article id or null>} '
        "per line; null means no article answers it (the right decision is handoff).",
    )
    parser.add_argument("--kb", type=Path, default=None, help="knowledge base directory")
    parser.add_argument("--queries", type=Path, required=True, help="labelled messages (JSONL)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--min",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when a metric is below VALUE, e.g. --min recall_at_1=0.8",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class Query:
    """One labelled message."""

    text: str
    expected: str | None
    line: int


def read_queries(path: Path, known_ids: set[str]) -> list[Query]:
    """Parse and validate a JSONL evaluation file."""
    if not path.is_file():
        raise EvalDataError(f"Queries file not found: {path}")
    queries: list[Query] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise EvalDataError(f'{path}:{number}: expected {{"text": "...", "expected": ...}}')
        expected = item.get("expected")
        if expected is not None and not isinstance(expected, str):
            raise EvalDataError(f"{path}:{number}: expected must be an article id or null")
        if expected is not None and expected not in known_ids:
            raise EvalDataError(
                f"{path}:{number}: expected article {expected!r} is not in the knowledge base"
            )
        queries.append(Query(item["text"], expected, number))
    if not queries:
        raise EvalDataError(f"{path}: no queries")
    return queries


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def compute_metrics(queries: list[Query], decisions: list[Decision]) -> dict[str, Any]:
    """Every metric of the report from queries and their decisions."""
    in_scope = [(q, d) for q, d in zip(queries, decisions, strict=True) if q.expected]
    out_scope = [d for q, d in zip(queries, decisions, strict=True) if q.expected is None]
    hits1 = hits3 = 0
    rr = 0.0
    for q, d in in_scope:
        ids = [s.article_id for s in d.suggestions]
        if ids[:1] == [q.expected]:
            hits1 += 1
        if q.expected in ids[:3]:
            hits3 += 1
        if q.expected in ids:
            rr += 1.0 / (ids.index(q.expected) + 1)
    handoffs = [
        q.expected is None
        for q, d in zip(queries, decisions, strict=True)
        if d.kind is DecisionKind.HANDOFF
    ]
    answers = [
        d.best is not None and d.best.article_id == q.expected
        for q, d in in_scope
        if d.kind is DecisionKind.ANSWER
    ]
    answered_out = sum(d.kind is DecisionKind.ANSWER for d in out_scope)
    latencies = np.asarray([d.elapsed_ms for d in decisions])
    kinds = {k.value: 0 for k in DecisionKind}
    for d in decisions:
        kinds[d.kind.value] += 1
    area = auroc(
        np.asarray([d.confidence for _, d in in_scope]),
        np.asarray([d.confidence for d in out_scope]),
    )
    return {
        "n": len(queries),
        "n_in_scope": len(in_scope),
        "n_out_of_scope": len(out_scope),
        "recall_at_1": _rate(hits1, len(in_scope)),
        "recall_at_3": _rate(hits3, len(in_scope)),
        "mrr": _rate(rr, len(in_scope)),
        "handoff_precision": _rate(sum(handoffs), len(handoffs)),
        "handoff_recall": _rate(sum(handoffs), len(out_scope)),
        "answer_precision": _rate(sum(answers) + 0.0, len(answers) + answered_out),
        "auroc": None if np.isnan(area) else round(area, 4),
        "decisions": {k: round(v / len(decisions), 4) for k, v in kinds.items()},
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
    }


def threshold_table(queries: list[Query], decisions: list[Decision]) -> list[dict[str, float]]:
    """What each confidence threshold would do: answered share, their precision, handoffs."""
    rows = []
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        above = [
            (q, d) for q, d in zip(queries, decisions, strict=True) if d.confidence >= threshold
        ]
        correct = sum(d.best is not None and d.best.article_id == q.expected for q, d in above)
        below = [q for q, d in zip(queries, decisions, strict=True) if d.confidence < threshold]
        oos_total = sum(q.expected is None for q in queries)
        rows.append(
            {
                "threshold": threshold,
                "share_above": round(len(above) / len(queries), 3),
                "precision_above": round(correct / len(above), 3) if above else float("nan"),
                "handoff_precision_below": round(
                    sum(q.expected is None for q in below) / len(below), 3
                )
                if below
                else float("nan"),
                "handoff_recall_below": round(
                    sum(q.expected is None for q in below) / oos_total, 3
                )
                if oos_total
                else float("nan"),
            }
        )
    return rows


def _check_floors(metrics: dict[str, Any], floors: list[str]) -> list[str]:
    failures = []
    for floor in floors:
        key, _, value = floor.partition("=")
        if key not in metrics or not value:
            raise EvalDataError(f"--min {floor}: use METRIC=VALUE with one of {METRIC_KEYS}")
        actual = metrics[key]
        if actual is None or actual < float(value):
            failures.append(f"{key} = {actual} is below the floor {value}")
    return failures


def _format(metrics: dict[str, Any], table: list[dict[str, float]], weights: Any) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [
        f"queries: {metrics['n']} ({metrics['n_in_scope']} in scope, "
        f"{metrics['n_out_of_scope']} out of scope)",
        f"recall@1 {pct(metrics['recall_at_1'])}   recall@3 {pct(metrics['recall_at_3'])}   "
        f"MRR {pct(metrics['mrr'])}",
        f"handoff precision {pct(metrics['handoff_precision'])}   "
        f"handoff recall {pct(metrics['handoff_recall'])}   AUROC {pct(metrics['auroc'])}",
        f"answers correct {pct(metrics['answer_precision'])}",
        "decisions: " + ", ".join(f"{k} {v:.1%}" for k, v in metrics["decisions"].items()),
        f"latency per decision: p50 {metrics['p50_ms']:.1f} ms, p95 {metrics['p95_ms']:.1f} ms",
        "",
        "confidence threshold | share above | precision above | handoff precision/recall below",
    ]
    for row in table:
        lines.append(
            f"  {row['threshold']:.1f}               | {row['share_above']:.3f}       | "
            f"{row['precision_above']:.3f}           | {row['handoff_precision_below']:.3f} / "
            f"{row['handoff_recall_below']:.3f}"
        )
    lines.append("")
    lines.append(f"fusion weights: {json.dumps(weights)}")
    return "\n".join(lines)


def evaluate(suggester: HybridSuggester, queries: list[Query]) -> list[Decision]:
    """Run every query through the suggester's decision path, with a progress bar on a tty."""
    return [
        suggester.decide_sync(q.text, ranking_depth=RANKING_DEPTH)
        for q in tqdm(queries, desc="eval", unit="msg", disable=not sys.stderr.isatty())
    ]


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    db = await open_database(settings)
    try:
        live = await build_knowledge(settings, kb_dir=args.kb, db=db)
    finally:
        await db.close()
    suggester = live.suggester
    queries = read_queries(args.queries, set(live.kb.articles))
    decisions = await asyncio.to_thread(evaluate, suggester, queries)
    metrics = compute_metrics(queries, decisions)
    table = threshold_table(queries, decisions)
    weights = {
        k: {n: round(w, 2) for n, w in v.items()}
        for k, v in weights_table(suggester.snapshot.model).items()
    }
    failures = _check_floors(metrics, args.min)
    if args.json:
        print(json.dumps({**metrics, "thresholds": table, "weights": weights}, indent=2))
    else:
        print(_format(metrics, table, weights))
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


def run(args: argparse.Namespace) -> int:
    """Handle `supportbot eval`."""
    if not args.verbose:
        # Every decision is logged for threshold tuning; here the report already shows them.
        logging.getLogger("supportbot.retrieval").setLevel(logging.WARNING)
    return asyncio.run(_run(args))
