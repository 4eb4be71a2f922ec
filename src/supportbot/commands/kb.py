"""`supportbot kb check [DIR]` and `supportbot kb preview FILE`: tools for content editors."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from supportbot.config import Settings, load_settings
from supportbot.domain.errors import ConfigError, KnowledgeBaseError
from supportbot.domain.models import Article, Problem, Severity
from supportbot.knowledge.canned import parse_canned_replies
from supportbot.knowledge.files import read_text
from supportbot.knowledge.frontmatter import LANG_CODES
from supportbot.knowledge.loader import CANNED_FILES, KnowledgeBase, load_knowledge_base
from supportbot.knowledge.markup import telegram_html_error
from supportbot.knowledge.parser import parse_article
from supportbot.retrieval.duplicates import find_near_duplicates

_PARAGRAPHS = re.compile(r"\n\s*\n")


def _similarity(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def register(subparsers: Any, name: str) -> None:
    """Add the `kb` subcommand group."""
    parser = subparsers.add_parser(name, help="check or preview the knowledge base")
    actions = parser.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate every article and canned reply and report each problem",
        description="Exit status: 0 when there are no errors (warnings allowed), 1 otherwise.",
    )
    check.add_argument(
        "dir", nargs="?", type=Path, default=None, help="knowledge base dir (default: config)"
    )
    check.add_argument(
        "--no-embeddings",
        action="store_true",
        help="skip the near-duplicate check, which loads the first configured encoder",
    )
    check.add_argument(
        "--threshold",
        type=_similarity,
        default=None,
        help="cosine similarity (0..1) from which two articles count as near-duplicates "
        "(default: retrieval.near_duplicate_threshold)",
    )
    check.set_defaults(handler=run_check)
    preview = actions.add_parser(
        "preview", help="show how one article (or canned replies file) is parsed and sent"
    )
    preview.add_argument("file", type=Path)
    preview.add_argument(
        "--root",
        type=Path,
        default=None,
        help="knowledge base root the file's id is relative to (default: guessed)",
    )
    preview.set_defaults(handler=run_preview)


def _line(problem: Problem, shown_path: Path) -> str:
    return (
        f"{shown_path}:{problem.line}: {problem.severity.value}: {problem.message} "
        f"[{problem.code}]"
    )


def near_duplicate_problems(
    kb: KnowledgeBase, settings: Settings, threshold: float
) -> list[Problem]:
    """Warnings for pairs of same-language articles the first encoder finds near-identical."""
    from supportbot.app import build_multilingual_embedder  # heavy: only when it runs

    if len(kb.articles) < 2:
        return []
    if not settings.retrieval.encoders:
        raise ConfigError(
            "kb check: no encoder in retrieval.encoders for the near-duplicate check: "
            "configure one or pass --no-embeddings"
        )
    try:
        embedder = build_multilingual_embedder(settings.retrieval.encoders)
    except (ImportError, OSError, ValueError, ConfigError) as exc:
        reason = exc.user_message if isinstance(exc, ConfigError) else str(exc)
        raise ConfigError(
            f"kb check: cannot load an encoder for the near-duplicate check ({reason}); "
            "fix retrieval.encoders or pass --no-embeddings"
        ) from exc
    problems = []
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
                f"{a.source} and {b.source} are near-duplicates (similarity "
                f"{similarity:.2f} >= {threshold:.2f}): users would be offered both; merge "
                "them into one article or make their titles and questions distinct",
            )
        )
    return problems


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def markup_problems(kb: KnowledgeBase) -> list[Problem]:
    """Errors for article text that Telegram would refuse once rendered as the bot sends it."""
    problems: list[Problem] = []
    for article in kb.articles.values():
        read = read_text(kb.root / article.source, article.source)
        problems += article_markup_problems(article, read.text or "")
    return problems


def article_markup_problems(article: Article, text: str) -> list[Problem]:
    """Paragraphs of `article` (whose file holds `text`) that Telegram would refuse.

    Each paragraph is rendered with the bot's own renderer and checked against Telegram's
    HTML rules (known tags only, properly nested), so the line of the culprit is known.
    """
    from supportbot.telegram.render import format_markdown  # no aiogram: stays fast

    problems: list[Problem] = []
    blocks = [f"**{article.title}**", *_PARAGRAPHS.split(article.body)]
    blocks += _PARAGRAPHS.split(article.guide_intro)
    blocks += [step.text for step in article.steps]
    blocks += _PARAGRAPHS.split(article.closing_note)
    for block in blocks:
        if not block.strip():
            continue
        reason = telegram_html_error(format_markdown(block))
        if reason is None:
            continue
        at = text.find(block.strip().splitlines()[0])
        problems.append(
            Problem(
                article.source,
                text.count("\n", 0, at) + 1 if at >= 0 else 1,
                Severity.ERROR,
                "telegram-markup",
                f"Telegram would refuse this paragraph ({reason}), so the bot sends it "
                f'without formatting: "{block.strip()[:60]}"; make bold (**...**) and links '
                "([text](url)) open and close in order, e.g. **a [b](url)** instead of "
                "**a [b** c](url)",
            )
        )
    return problems


def run_check(args: argparse.Namespace) -> int:
    """Validate a knowledge base: exit 1 when an article is skipped or something is broken."""
    settings = load_settings(args.config)
    root: Path = args.dir if args.dir is not None else settings.knowledge_base.dir
    kb = load_knowledge_base(root)
    problems = list(kb.problems) + markup_problems(kb)
    if not args.no_embeddings:
        threshold = (
            args.threshold
            if args.threshold is not None
            else settings.retrieval.near_duplicate_threshold
        )
        problems += near_duplicate_problems(kb, settings, threshold)
    problems.sort(key=lambda p: (p.path, p.line, p.severity, p.code))
    for problem in problems:
        print(_line(problem, root / problem.path))
    errors = sum(p.severity is Severity.ERROR for p in problems)
    if not kb.articles:
        print(f"{root}: error: no articles found: add markdown files with front matter")
        errors += 1
    warnings = sum(p.severity is Severity.WARNING for p in problems)
    replies = len(kb.canned)
    print(
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}; "
        f"{replies} canned {'reply' if replies == 1 else 'replies'}"
    )
    # The last line, which scripts and CI logs grep.
    print(kb.report.summary())
    return 1 if errors or kb.report.skipped else 0


def _guess_root(path: Path, configured: Path) -> Path:
    """The knowledge base root a file belongs to: the configured one, else above a ru/ or en/."""
    resolved = path.resolve()
    if resolved.is_relative_to(configured.resolve()):
        return configured.resolve()
    for parent in resolved.parents:
        if parent.name.lower() in LANG_CODES:
            return parent.parent
    return resolved.parent


def _print_article(article: Article) -> None:
    print(f"id:        {article.id}")
    print(f"title:     {article.title}")
    print(f"language:  {article.lang.value}")
    print(f"category:  {article.category or '(none)'}")
    print(f"tags:      {', '.join(article.tags) or '(none)'}")
    print(f"links:     {', '.join(article.links) or '(none)'}")
    print("questions:" if article.questions else "questions: (none)")
    for question in article.questions:
        print(f"  - {question}")
    for index, (text, buttons) in enumerate(rendered_messages(article), start=1):
        print(f"\n--- message {index} ---")
        print(text)
        for row in buttons:
            print("  " + "  ".join(f"[{label}]" for label in row))


def rendered_messages(article: Article) -> list[tuple[str, list[list[str]]]]:
    """The messages a user gets for this article, as the bot renders them, in terminal text.

    The answer (with its buttons), then, for a guide, each step as "Show me step by step"
    sends it and the question after the last step; each with its rows of button labels.
    """
    from supportbot.commands.chat import to_terminal
    from supportbot.conversation.replies import Act, Action, Outgoing, Reply, Say
    from supportbot.telegram.render import Renderer
    from supportbot.telegram.texts import Texts

    # The actions the conversation engine attaches to each of these messages.
    answer = [Act.HELPED, Act.NOT_HELPED, Act.PERSON]
    messages = [
        Outgoing(
            Say.ANSWER,
            article=article,
            actions=tuple(
                Action(act, article.id) for act in ([Act.GUIDE] if article.steps else []) + answer
            ),
        )
    ]
    for step in article.steps:
        step_acts = (Act.STEP_DONE, Act.STEP_FAILED, Act.PERSON)
        actions = tuple(Action(act, article.id, step.number) for act in step_acts)
        messages.append(Outgoing(Say.STEP, article=article, step=step, actions=actions))
    if article.steps:
        last = len(article.steps)
        solved = (Act.SOLVED_YES, Act.SOLVED_NO)
        actions = tuple(Action(act, article.id, last) for act in solved)
        messages.append(Outgoing(Say.ASK_SOLVED, article=article, actions=actions))
    reply = Reply(article.lang, conversation=1, messages=tuple(messages))
    out: list[tuple[str, list[list[str]]]] = []
    for message in Renderer(Texts.load()).render(reply):
        rows = message.markup.inline_keyboard if message.markup is not None else []
        labels = [[button.text for button in row] for row in rows]
        out.append((to_terminal(message.text, color=False), labels))
    return out


def _print_problems(problems: Sequence[Problem], path: Path) -> None:
    if problems:
        print("\n--- problems ---")
    for problem in problems:
        print(_line(problem, path))


def run_preview(args: argparse.Namespace) -> int:
    """Show how one file is parsed: the article's fields, its answer and each step message."""
    path: Path = args.file
    if not path.is_file():
        raise KnowledgeBaseError(f"File not found: {path}")
    read = read_text(path, path.name)
    if read.text is None:
        reason = read.problem.message if read.problem is not None else "cannot read it"
        raise KnowledgeBaseError(f"{path}: {reason}")
    text = read.text
    root = (
        args.root
        if args.root is not None
        else _guess_root(path, load_settings(args.config).knowledge_base.dir)
    )
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.name
    if path.name.lower() in CANNED_FILES:
        replies, problems = parse_canned_replies(text, rel)
        for reply in replies:
            tags = f" [{', '.join(reply.tags)}]" if reply.tags else ""
            print(f"--- {reply.id} ({reply.lang.value}): {reply.title}{tags} ---\n{reply.text}\n")
        print(f"{len(replies)} canned {'reply' if len(replies) == 1 else 'replies'}")
    else:
        article, problems = parse_article(text, rel)
        if article is not None:
            _print_article(article)
            problems += article_markup_problems(article, text)
        else:
            print(f"{rel}: not served: fix the errors below")
    _print_problems(problems, path)
    return 1 if any(p.severity is Severity.ERROR for p in problems) else 0
