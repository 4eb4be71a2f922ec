"""`supportbot eval`: retrieval quality and decision quality on a labelled set of messages."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from supportbot.commands.eval_output import (
    RANKING_DEPTH,
    format_report,
    strict,
    worst_misses,
    write_details,
)
from supportbot.config import load_settings
from supportbot.domain.errors import EvalDataError
from supportbot.domain.models import Decision, DecisionKind
from supportbot.retrieval.calibration import auroc

if TYPE_CHECKING:
    from supportbot.retrieval.suggester import HybridSuggester

METRIC_KEYS = (
    "recall_at_1",
    "recall_at_3",
    "mrr",
    "handoff_precision",
    "handoff_recall",
    "answer_precision",
    "auroc",
    "self_service",
    "oos_answer_rate",
    "handoff_share",
)
"""The metrics `--min` and `--max` can bound: each a share from 0 to 1."""


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
        help="fail (exit 1) when a metric is below VALUE (0..1), e.g. --min recall_at_1=0.8; "
        f"METRIC is one of {', '.join(METRIC_KEYS)}",
    )
    parser.add_argument(
        "--max",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when a metric is above VALUE (0..1), e.g. --max oos_answer_rate=0.05",
    )
    parser.add_argument(
        "--details",
        type=Path,
        default=None,
        metavar="FILE.jsonl",
        help="write one line per message: text, expected, decision, confidence, the article "
        "ids shown and the rank of the expected one",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class Query:
    """One labelled message."""

    text: str
    expected: str | None
    line: int


def _json_kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _parse_line(raw: str, where: str) -> tuple[str, str | None]:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EvalDataError(f"{where}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(item, dict):
        raise EvalDataError(
            f'{where}: expected an object {{"text": "...", "expected": "<article id>" or null}}, '
            f"found {_json_kind(item)}"
        )
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise EvalDataError(f'{where}: "text" must be a non-empty string')
    if "expected" not in item:
        # A misspelt key would otherwise turn the line into an out-of-scope message.
        raise EvalDataError(
            f'{where}: "expected" is missing: give an article id, or null for a message no '
            "article answers"
        )
    expected = item["expected"]
    if expected is not None and not isinstance(expected, str):
        raise EvalDataError(f'{where}: "expected" must be an article id (a string) or null')
    return text, expected


def read_queries(path: Path, known_ids: Collection[str] | None = None) -> list[Query]:
    """Parse and validate a JSONL evaluation file.

    Args:
        path: one JSON object per line; blank lines are skipped; a UTF-8 BOM is allowed.
        known_ids: the article ids `expected` may name; None skips that check (see
            `check_expected`), so a malformed file fails before the models load.

    Raises:
        EvalDataError: the file is missing or unreadable, or a line is malformed; the
            message names the file and line.
    """
    if not path.is_file():
        raise EvalDataError(f"Queries file not found: {path}")
    try:
        # utf-8-sig: editors on Windows save JSONL with a byte-order mark.
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise EvalDataError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise EvalDataError(
            f"{path}: not UTF-8 (byte {exc.start}): save the file as UTF-8"
        ) from None
    queries: list[Query] = []
    # Only "\n" ends a JSONL line: str.splitlines would also split at U+2028 and other
    # separators that JSON allows inside a string.
    for number, raw in enumerate(content.split("\n"), 1):
        if raw.strip():
            text, expected = _parse_line(raw, f"{path}:{number}")
            queries.append(Query(text, expected, number))
    if not queries:
        raise EvalDataError(f"{path}: no queries")
    if known_ids is not None:
        check_expected(queries, known_ids, path)
    return queries


def check_expected(queries: Sequence[Query], known_ids: Collection[str], path: Path) -> None:
    """Every `expected` id must be an article of the knowledge base."""
    for query in queries:
        if query.expected is not None and query.expected not in known_ids:
            raise EvalDataError(
                f"{path}:{query.line}: expected article {query.expected!r} is not in the "
                "knowledge base"
            )


def _rate(numerator: float, denominator: float, digits: int = 4) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the suggester did with one message, and where it ranked the articles."""

    decision: Decision
    ranking: tuple[str, ...]  # the best RANKING_DEPTH article ids, best first

    @property
    def shown(self) -> tuple[str, ...]:
        """The article ids put in front of the user: the answer, or the suggestions shown."""
        kind = self.decision.kind
        if kind is DecisionKind.ANSWER:
            return tuple(s.article_id for s in self.decision.suggestions[:1])
        if kind is DecisionKind.SUGGEST:
            return tuple(s.article_id for s in self.decision.suggestions)
        return ()

    def rank_of(self, article_id: str | None) -> int | None:
        """1-based rank of the article among the ranked ones; None when not among them."""
        if article_id is None or article_id not in self.ranking:
            return None
        return self.ranking.index(article_id) + 1


def self_served(query: Query, outcome: Outcome) -> bool:
    """The message's article was put in front of the user (answered, or among suggestions)."""
    return query.expected is not None and query.expected in outcome.shown


def wrong_answer(query: Query, outcome: Outcome) -> bool:
    """Answered directly with an article that is not the expected one (or with any, when
    no article answers the message)."""
    return outcome.decision.kind is DecisionKind.ANSWER and outcome.shown[:1] != (query.expected,)


def compute_metrics(queries: list[Query], outcomes: list[Outcome]) -> dict[str, Any]:
    """Every metric of the report from queries and what the suggester did with them."""
    pairs = list(zip(queries, outcomes, strict=True))
    decisions = [o.decision for o in outcomes]
    in_scope = [(q, o.decision) for q, o in pairs if q.expected]
    out_scope = [o.decision for q, o in pairs if q.expected is None]
    hits1 = hits3 = 0
    rr = 0.0
    for q, o in pairs:
        if not q.expected:
            continue
        ids = list(o.ranking)
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
        "self_service": _rate(sum(self_served(q, o) for q, o in pairs), len(in_scope)),
        "answer_precision": _rate(sum(answers) + 0.0, len(answers) + answered_out),
        "oos_answer_rate": _rate(answered_out, len(out_scope)),
        "handoff_share": _rate(kinds[DecisionKind.HANDOFF.value], len(decisions)),
        "handoff_precision": _rate(sum(handoffs), len(handoffs)),
        "handoff_recall": _rate(sum(handoffs), len(out_scope)),
        "auroc": None if np.isnan(area) else round(area, 4),
        "decisions": {k: round(v / len(decisions), 4) for k, v in kinds.items()},
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
    }


def threshold_table(
    queries: list[Query], outcomes: list[Outcome]
) -> list[dict[str, float | None]]:
    """What each confidence threshold would do: answered share, their precision, handoffs.

    A share with nothing to count (no message above the threshold) is None, not NaN:
    NaN is not JSON.
    """
    decisions = [o.decision for o in outcomes]
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
                "precision_above": _rate(correct, len(above), 3),
                "handoff_precision_below": _rate(
                    sum(q.expected is None for q in below), len(below), 3
                ),
                "handoff_recall_below": _rate(
                    sum(q.expected is None for q in below), oos_total, 3
                ),
            }
        )
    return rows


def parse_floors(floors: Sequence[str], option: str = "--min") -> dict[str, float]:
    """`--min METRIC=VALUE` (or `--max`) options as {metric: bound}, checked before anything
    loads.

    Raises:
        EvalDataError: an unknown metric, or a value that is not a number from 0 to 1.
    """
    parsed: dict[str, float] = {}
    for floor in floors:
        key, sep, value = floor.partition("=")
        key = key.strip()
        if not sep or key not in METRIC_KEYS:
            raise EvalDataError(
                f"{option} {floor}: use METRIC=VALUE with METRIC one of {', '.join(METRIC_KEYS)}"
            )
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not 0.0 <= number <= 1.0:  # NaN fails this too
            raise EvalDataError(f"{option} {floor}: VALUE must be a number from 0 to 1")
        parsed[key] = number
    return parsed


def _check_floors(
    metrics: dict[str, Any], floors: dict[str, float], ceilings: dict[str, float] | None = None
) -> list[str]:
    failures = []
    for key, floor in floors.items():
        actual = metrics[key]
        if actual is None or actual < floor:
            failures.append(f"{key} = {actual} is below the floor {floor:g}")
    for key, ceiling in (ceilings or {}).items():
        actual = metrics[key]
        if actual is None or actual > ceiling:
            failures.append(f"{key} = {actual} is above the ceiling {ceiling:g}")
    return failures


def detail_rows(queries: list[Query], outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """One row per message for `--details`: what the user would have got."""
    return [
        {
            "line": q.line,
            "text": q.text,
            "expected": q.expected,
            "decision": o.decision.kind.value,
            "confidence": o.decision.confidence,
            "shown": list(o.shown),
            "expected_rank": o.rank_of(q.expected),
            "self_served": self_served(q, o),
            "wrong_answer": wrong_answer(q, o),
        }
        for q, o in zip(queries, outcomes, strict=True)
    ]


EVAL_BATCH = 32


def evaluate(suggester: HybridSuggester, queries: list[Query]) -> list[Outcome]:
    """Run every query through the suggester's decision path (in batches: one forward pass
    per encoder each), with a progress bar on a tty."""
    outcomes: list[Outcome] = []
    with tqdm(total=len(queries), desc="eval", unit="msg", disable=not sys.stderr.isatty()) as bar:
        for start in range(0, len(queries), EVAL_BATCH):
            batch = [q.text for q in queries[start : start + EVAL_BATCH]]
            for decision, ranking in suggester.rank_batch_sync(batch, RANKING_DEPTH):
                outcomes.append(Outcome(decision, ranking))
            bar.update(len(batch))
    return outcomes


async def _run(
    args: argparse.Namespace, floors: dict[str, float], ceilings: dict[str, float]
) -> int:
    from supportbot.app import build_knowledge, open_database  # heavy: only when it runs
    from supportbot.retrieval.suggester import weights_table

    settings = load_settings(args.config)
    # The file is read before the models load: a broken line is reported in a moment.
    queries = read_queries(args.queries)
    db = await open_database(settings)
    try:
        live = await build_knowledge(settings, kb_dir=args.kb, db=db)
    finally:
        await db.close()
    suggester = live.suggester
    check_expected(queries, live.kb.articles.keys(), args.queries)
    outcomes = await asyncio.to_thread(evaluate, suggester, queries)
    metrics = compute_metrics(queries, outcomes)
    table = threshold_table(queries, outcomes)
    rows = detail_rows(queries, outcomes)
    if args.details is not None:
        write_details(args.details, rows)
    weights = {
        k: {n: round(w, 2) for n, w in v.items()}
        for k, v in weights_table(suggester.snapshot.model).items()
    }
    failures = _check_floors(metrics, floors, ceilings)
    if args.json:
        report = {**metrics, "thresholds": table, "weights": weights}
        print(json.dumps(strict(report), indent=2, allow_nan=False))
    else:
        print(format_report(metrics, table, weights, worst_misses(rows)))
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


def run(args: argparse.Namespace) -> int:
    """Handle `supportbot eval`."""
    # A typo in --min is reported now, not after minutes of evaluation.
    floors = parse_floors(args.min)
    ceilings = parse_floors(args.max, "--max")
    level = logging.getLogger().getEffectiveLevel()
    if level > logging.DEBUG:
        # Every decision is logged for threshold tuning; here the report already shows them.
        # Never below the configured level: that would let through what it silences.
        logging.getLogger("supportbot.retrieval").setLevel(max(logging.WARNING, level))
    return asyncio.run(_run(args, floors, ceilings))
