"""Loading a knowledge base directory: ids, links, duplicates, last good versions, watching."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.models import Lang, Severity
from supportbot.knowledge.loader import diff, load_knowledge_base
from supportbot.knowledge.watcher import watch_knowledge_base


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def article(title: str, body: str = "Some helpful text.", extra: str = "") -> str:
    return f"---\ntitle: {title}\n{extra}---\n{body}\n"


def test_load_knowledge_base_walks_nested_folders_and_sorts_by_id(tmp_path: Path) -> None:
    write(tmp_path, "ru/payments/card.md", article("Карта", "Банк отклонил платёж."))
    write(tmp_path, "en/payments/cards/declined.md", article("Declined"))
    write(tmp_path, "welcome.md", article("Welcome"))
    kb = load_knowledge_base(tmp_path)
    assert kb.problems == ()
    assert list(kb.articles) == ["en/payments/cards/declined", "ru/payments/card", "welcome"]
    ru = kb.articles["ru/payments/card"]
    assert (ru.lang, ru.category, ru.source) == (Lang.RU, "payments", "ru/payments/card.md")
    assert kb.articles["welcome"].category == ""


def test_load_knowledge_base_skips_hidden_drafts_and_the_root_readme(tmp_path: Path) -> None:
    write(tmp_path, "en/ok.md", article("OK"))
    write(tmp_path, "README.md", "# How to write articles\n")
    write(tmp_path, ".git/x.md", "junk")
    write(tmp_path, "en/.hidden.md", "junk")
    write(tmp_path, "en/_draft.md", "junk")
    write(tmp_path, "en/notes.txt", "junk")
    kb = load_knowledge_base(tmp_path)
    assert list(kb.articles) == ["en/ok"]
    assert kb.problems == ()
    assert set(kb.fingerprints) == {"en/ok.md"}


def test_load_knowledge_base_fingerprints_are_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "en/ok.md", article("OK"))
    kb = load_knowledge_base(tmp_path)
    assert kb.fingerprints["en/ok.md"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_knowledge_base_duplicate_id_names_the_first_file(tmp_path: Path) -> None:
    write(tmp_path, "en/a.md", article("First"))
    write(tmp_path, "en/b.md", article("Second", extra="id: en/a\n"))
    kb = load_knowledge_base(tmp_path)
    [problem] = kb.errors()
    assert (problem.path, problem.line, problem.code) == ("en/b.md", 3, "duplicate-id")
    assert "en/a.md" in problem.message
    assert kb.articles["en/a"].title == "First"


def test_load_knowledge_base_new_file_cannot_take_over_a_served_id(tmp_path: Path) -> None:
    write(tmp_path, "en/payments/card.md", article("Card declined", extra="id: pay/card\n"))
    served = load_knowledge_base(tmp_path)
    # A draft sorted before the live file reuses its id: the live article stays served.
    write(tmp_path, "en/aaa/draft.md", article("Draft about pizzas", extra="id: pay/card\n"))
    kb = load_knowledge_base(tmp_path, served)
    assert kb.articles["pay/card"].title == "Card declined"
    [problem] = kb.errors()
    assert (problem.path, problem.code) == ("en/aaa/draft.md", "duplicate-id")
    assert "en/payments/card.md" in problem.message


def test_load_knowledge_base_resolves_relative_and_root_links(tmp_path: Path) -> None:
    write(tmp_path, "en/account/reset-password.md", article("Reset"))
    write(tmp_path, "en/account/custom.md", article("Custom", extra="id: custom-id\n"))
    write(
        tmp_path,
        "en/payments/card.md",
        article(
            "Card",
            "[a](../account/reset-password.md) [b](en/account/reset-password) "
            "[c](/en/account/reset-password) [d](../account/custom.md) [e](custom-id) "
            "[f](https://example.com)",
        ),
    )
    kb = load_knowledge_base(tmp_path)
    assert kb.problems == ()
    assert kb.articles["en/payments/card"].links == ("en/account/reset-password", "custom-id")


def test_load_knowledge_base_broken_link_is_an_error_on_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "en/payments/card.md",
        "---\ntitle: Card\n---\nIntro.\n\n## Steps\n1. See [this](../account/gone.md).\n",
    )
    kb = load_knowledge_base(tmp_path)
    [problem] = kb.problems
    assert (problem.path, problem.line, problem.code) == ("en/payments/card.md", 7, "broken-link")
    assert problem.severity is Severity.ERROR
    assert "en/account/gone" in problem.message
    # A broken link does not hide the article: users still get it.
    assert "en/payments/card" in kb.articles


def test_load_knowledge_base_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = write(tmp_path, "en/a.md", article("Good title", "Good body."))
    first = load_knowledge_base(tmp_path)
    path.write_text("---\ntitle: [broken\n---\nNew body.\n", encoding="utf-8")
    second = load_knowledge_base(tmp_path, first)
    assert second.articles["en/a"].title == "Good title"
    codes = {(p.code, p.severity) for p in second.problems}
    assert codes == {("invalid-yaml", Severity.ERROR), ("kept-last-good", Severity.WARNING)}
    kept = next(p for p in second.problems if p.code == "kept-last-good")
    assert "kept the last good version" in kept.message
    assert not diff(first, second)


def test_load_knowledge_base_without_previous_drops_a_broken_file(tmp_path: Path) -> None:
    write(tmp_path, "en/a.md", "---\ntitle: [broken\n---\nBody.\n")
    kb = load_knowledge_base(tmp_path)
    assert kb.articles == {}
    assert [p.code for p in kb.errors()] == ["invalid-yaml"]


def test_load_knowledge_base_non_utf8_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "en/ok.md", article("OK"))
    (tmp_path / "en" / "latin1.md").write_bytes("---\ntitle: Caf\xe9\n---\nx".encode("latin-1"))
    kb = load_knowledge_base(tmp_path)
    [problem] = kb.problems
    assert (problem.path, problem.line, problem.code) == ("en/latin1.md", 2, "not-utf8")
    assert "UTF-8" in problem.message
    assert list(kb.articles) == ["en/ok"]


def test_load_knowledge_base_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_knowledge_base(tmp_path / "missing")


def test_load_knowledge_base_root_that_is_a_file_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.md", article("x"))
    with pytest.raises(KnowledgeBaseError, match="not a directory"):
        load_knowledge_base(path)


def test_load_knowledge_base_reads_canned_replies_anywhere(tmp_path: Path) -> None:
    write(tmp_path, "canned_replies.yaml", "- {id: hi, title: Hi, lang: en, text: 'Hi {name}'}\n")
    write(tmp_path, "ru/canned_replies.yml", "- {id: bye, title: Пока, lang: ru, text: Пока}\n")
    kb = load_knowledge_base(tmp_path)
    assert [r.id for r in kb.canned] == ["hi", "bye"]
    assert kb.problems == ()


def test_load_knowledge_base_duplicate_canned_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "canned_replies.yaml", "- {id: hi, title: Hi, lang: en, text: Hi}\n")
    write(tmp_path, "ru/canned_replies.yaml", "- {id: hi, title: Hi, lang: ru, text: Привет}\n")
    kb = load_knowledge_base(tmp_path)
    [problem] = kb.problems
    assert (problem.path, problem.code) == ("ru/canned_replies.yaml", "duplicate-id")
    assert "canned_replies.yaml" in problem.message
    assert [r.lang for r in kb.canned] == [Lang.EN]


def test_load_knowledge_base_keeps_last_good_canned_replies(tmp_path: Path) -> None:
    path = write(tmp_path, "canned_replies.yaml", "- {id: hi, title: Hi, lang: en, text: Hi}\n")
    first = load_knowledge_base(tmp_path)
    path.write_text("- {id: hi, title: [oops\n", encoding="utf-8")
    second = load_knowledge_base(tmp_path, first)
    assert second.canned == first.canned
    assert {p.code for p in second.problems} == {"invalid-yaml", "kept-last-good"}


def test_diff_reports_added_changed_and_removed(tmp_path: Path) -> None:
    write(tmp_path, "en/a.md", article("A"))
    b = write(tmp_path, "en/b.md", article("B"))
    c = write(tmp_path, "en/c.md", article("C"))
    first = load_knowledge_base(tmp_path)
    b.write_text(article("B2"), encoding="utf-8")
    c.unlink()
    write(tmp_path, "en/d.md", article("D"))
    changes = diff(first, load_knowledge_base(tmp_path, first))
    assert (changes.added, changes.changed, changes.removed) == (
        frozenset({"en/d"}),
        frozenset({"en/b"}),
        frozenset({"en/c"}),
    )
    assert diff(None, first).added == frozenset({"en/a", "en/b", "en/c"})


async def until_reported(
    changed: asyncio.Queue[set[Path]], name: str, touch: Callable[[], object]
) -> set[str]:
    """Every name reported until `name` is; `touch` writes it again while nothing comes.

    watchfiles gives no sign that it is watching yet: writing until the change is seen
    replaces a guessed settling time.
    """
    names: set[str] = set()
    async with asyncio.timeout(30):
        while name not in names:
            touch()
            try:
                names |= {p.name for p in await asyncio.wait_for(changed.get(), 1)}
            except TimeoutError:
                continue
    return names


async def test_watch_knowledge_base_reports_a_written_file(tmp_path: Path) -> None:
    changed: asyncio.Queue[set[Path]] = asyncio.Queue()

    async def on_change(paths: set[Path]) -> None:
        await changed.put(paths)

    stop = asyncio.Event()
    watcher = asyncio.create_task(
        watch_knowledge_base(tmp_path, on_change, debounce_ms=100, stop_event=stop)
    )

    def touch() -> None:
        write(tmp_path, "en/notes.txt", "ignored: not an article")
        write(tmp_path, "en/new.md", article("New"))

    try:
        # The new folder counts too (a moved folder arrives as the folder alone), and may
        # come in a batch of its own before the file.
        names = await until_reported(changed, "new.md", touch)
        assert names - {"en"} == {"new.md"}
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=5)


async def test_watch_knowledge_base_survives_a_looping_symlink(tmp_path: Path) -> None:
    changed: asyncio.Queue[set[Path]] = asyncio.Queue()

    async def on_change(paths: set[Path]) -> None:
        await changed.put(paths)

    write(tmp_path, "en/good.md", article("Good"))
    stop = asyncio.Event()
    watcher = asyncio.create_task(
        watch_knowledge_base(tmp_path, on_change, debounce_ms=100, stop_event=stop)
    )
    loop = tmp_path / "en/loop.md"

    def touch() -> None:
        loop.unlink(missing_ok=True)
        loop.symlink_to(loop)  # resolving it raises RuntimeError
        write(tmp_path, "en/new.md", article("New"))

    try:
        assert "new.md" in await until_reported(changed, "new.md", touch)
        assert not watcher.done()
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=5)


async def test_watch_knowledge_base_keeps_watching_after_a_failing_callback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: asyncio.Queue[set[Path]] = asyncio.Queue()

    async def on_change(paths: set[Path]) -> None:
        await calls.put(paths)
        raise RuntimeError("reload failed")

    stop = asyncio.Event()
    watcher = asyncio.create_task(
        watch_knowledge_base(tmp_path, on_change, debounce_ms=100, stop_event=stop)
    )
    try:
        await asyncio.sleep(0.3)
        write(tmp_path, "a.md", article("A"))
        await asyncio.wait_for(calls.get(), timeout=5)
        write(tmp_path, "b.yaml", "- {}\n")
        second = await asyncio.wait_for(calls.get(), timeout=5)
        assert {p.name for p in second} == {"b.yaml"}
        assert "handler failed" in caplog.text
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=5)
