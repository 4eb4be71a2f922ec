"""`supportbot kb check [DIR]` and `supportbot kb preview FILE`: tools for content editors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from supportbot.config import load_settings
from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.models import Problem, Severity
from supportbot.knowledge.loader import load_knowledge_base
from supportbot.knowledge.parser import parse_article
from supportbot.retrieval.duplicates import find_near_duplicates
from supportbot.retrieval.embedders import create_embedder


def register(subparsers: Any, name: str) -> None:
    """Add the `kb` subcommand group."""
    parser = subparsers.add_parser(name, help="check or preview the knowledge base")
    actions = parser.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate articles and report every problem")
    check.add_argument("dir", nargs="?", type=Path, default=None, help="knowledge base dir")
    check.add_argument(
        "--no-embeddings", action="store_true", help="skip the near-duplicate check (fast)"
    )
    check.add_argument(
        "--threshold", type=float, default=None, help="near-duplicate similarity (0..1)"
    )
    check.set_defaults(handler=run_check)
    preview = actions.add_parser("preview", help="show how one article is parsed and sent")
    preview.add_argument("file", type=Path)
    preview.set_defaults(handler=run_preview)


def run_check(args: argparse.Namespace) -> int:
    """Validate a knowledge base: exit 1 on errors, 0 with warnings only."""
    settings = load_settings(args.config)
    root: Path = args.dir or settings.knowledge_base.dir
    kb = load_knowledge_base(root)
    problems = list(kb.problems)
    if not args.no_embeddings and kb.articles:
        encoder = settings.retrieval.encoders[0]
        embedder = create_embedder(
            encoder.backend,
            encoder.model,
            query_prefix=encoder.query_prefix,
            passage_prefix=encoder.passage_prefix,
            batch_size=encoder.batch_size,
        )
        threshold = args.threshold or settings.retrieval.near_duplicate_threshold
        for first, second, similarity in find_near_duplicates(
            list(kb.articles.values()), embedder, threshold
        ):
            a, b = kb.articles[first], kb.articles[second]
            problems.append(
                Problem(
                    a.source,
                    1,
                    Severity.WARNING,
                    "near-duplicate",
                    f"near-duplicate of {b.source} (similarity {similarity:.2f}): users will "
                    "get both; merge them or make each one's title and questions distinct",
                )
            )
    problems.sort(key=lambda p: (p.path, p.line, p.code))
    for problem in problems:
        print(
            f"{root / problem.path}:{problem.line}: {problem.severity.value}: "
            f"{problem.message} [{problem.code}]"
        )
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    print(
        f"{len(kb.articles)} articles, {len(kb.canned)} canned replies: "
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    )
    return 1 if errors else 0


def run_preview(args: argparse.Namespace) -> int:
    """Show how one article file is parsed and how its steps will be sent."""
    path: Path = args.file
    if not path.is_file():
        raise KnowledgeBaseError(f"File not found: {path}")
    settings = load_settings(args.config)
    root = settings.knowledge_base.dir
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.name
    article, problems = parse_article(path.read_text(encoding="utf-8"), rel)
    for problem in problems:
        print(f"{path}:{problem.line}: {problem.severity.value}: {problem.message}")
    if article is None:
        return 1
    print(f"id:        {article.id}")
    print(f"title:     {article.title}")
    print(f"language:  {article.lang.value}")
    print(f"category:  {article.category or '(none)'}")
    print(f"tags:      {', '.join(article.tags) or '(none)'}")
    print("questions:")
    for question in article.questions:
        print(f"  - {question}")
    print("\n--- answer ---")
    print(article.body)
    if article.steps:
        print(f"\n--- {len(article.steps)} steps, one message each ---")
        for step in article.steps:
            print(f"\n[step {step.number}/{len(article.steps)}]\n{step.text}")
    return 1 if any(p.severity is Severity.ERROR for p in problems) else 0
