"""A hostile knowledge base: alias bombs, huge, binary and pathological files, links out.

`kb check` reports each with a clear error and the loader never serves them, reads past
the size limit or follows a link out of the knowledge base; a running bot keeps the last
good version. Speed is measured in benchmarks/bench_hostile_kb.py, not asserted here.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from supportbot.cli import main
from supportbot.domain.models import Severity
from supportbot.knowledge.loader import load_knowledge_base
from supportbot.telegram.render import article_blocks, split_html

GOOD = "---\ntitle: Card payment declined\n---\nYour bank may decline a payment.\n"


def alias_bomb() -> str:
    """About 500 bytes of YAML that expand to 9^9 strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in itertools.pairwise("abcdefghi"):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory so a developer's ./config.toml changes nothing."""
    monkeypatch.chdir(tmp_path)


def write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def check(kb: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["kb", "check", str(kb), "--no-embeddings"])
    return code, capsys.readouterr().out


def codes(kb_dir: Path) -> dict[str, set[str]]:
    kb = load_knowledge_base(kb_dir)
    found: dict[str, set[str]] = {}
    for problem in kb.problems:
        found.setdefault(problem.path, set()).add(problem.code)
    return found


def test_kb_check_alias_bomb_in_front_matter_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "en/good.md", GOOD)
    write(tmp_path, "en/bomb.md", f"---\ntitle: Bomb\n{alias_bomb()}tags: *i\n---\nText.\n")
    code, out = check(tmp_path, capsys)
    assert code == 1
    assert f"{tmp_path / 'en/bomb.md'}:2: error: the front matter expands to more than" in out
    assert "[yaml-too-complex]" in out
    assert out.splitlines()[-1] == "1 article served, 0 served without steps, 1 skipped"


def test_loader_alias_bomb_in_canned_replies_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "en/good.md", GOOD)
    write(tmp_path, "canned_replies.yaml", alias_bomb())
    assert codes(tmp_path) == {"canned_replies.yaml": {"yaml-too-complex"}}


def test_loader_a_canned_replies_file_of_100k_values_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "en/good.md", GOOD)
    write(tmp_path, "canned_replies.yaml", "[" + "a," * 100_000 + "b]\n")
    assert codes(tmp_path) == {"canned_replies.yaml": {"yaml-too-complex"}}


def test_loader_deeply_nested_front_matter_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "en/deep.md", "---\ntitle: Deep\ntags: " + "[" * 5000 + "\n---\nText.\n")
    assert codes(tmp_path) == {"en/deep.md": {"yaml-too-complex"}}


def test_loader_refuses_a_file_over_the_size_limit_without_reading_it(tmp_path: Path) -> None:
    path = write(tmp_path, "en/huge.md", GOOD)
    with path.open("r+b") as file:
        file.truncate(50 * 1024 * 1024)  # sparse: 50 MB that cost no disk
    kb = load_knowledge_base(tmp_path)
    [problem] = kb.problems
    assert (problem.path, problem.code, problem.severity) == (
        "en/huge.md",
        "too-large",
        Severity.ERROR,
    )
    assert "50.0 MB, over the 200 kB limit" in problem.message
    assert kb.articles == {}


def test_loader_size_limit_is_a_parameter(tmp_path: Path) -> None:
    write(tmp_path, "en/good.md", GOOD)
    assert load_knowledge_base(tmp_path, max_file_bytes=10).report.skipped[0].code == "too-large"


def test_kb_check_symlinks_out_of_the_knowledge_base_are_errors_and_never_served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.md", "---\ntitle: Secret\n---\nroot:x:0:0:root:/root:/bin/bash\n")
    write(outside, "folder/other.md", "---\ntitle: Other\n---\nNot for users.\n")
    kb = tmp_path / "kb"
    write(kb, "en/good.md", GOOD)
    (kb / "en/passwd.md").symlink_to(outside / "secret.md")
    (kb / "en/linked").symlink_to(outside / "folder", target_is_directory=True)
    (kb / "en/alias.md").symlink_to(kb / "en/good.md")  # inside: fine
    code, out = check(kb, capsys)
    assert code == 1
    assert "root:x:0" not in out
    lines = [line for line in out.splitlines() if "[symlink-outside]" in line]
    assert [line.split(": error: ")[0] for line in lines] == [
        f"{kb / 'en/linked'}:1",
        f"{kb / 'en/passwd.md'}:1",
    ]
    assert "outside the knowledge base: it is never read or served" in lines[1]
    served = load_knowledge_base(kb)
    assert sorted(served.articles) == ["en/alias", "en/good"]


def test_kb_check_binary_and_non_utf8_files_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "en/good.md", GOOD)
    write(tmp_path, "en/nul.md", "---\ntitle: Nul\n---\n" + "text\x00" * 10)
    write(tmp_path, "en/latin1.md", "---\ntitle: Café\n---\nDéjà vu.\n".encode("latin-1"))
    code, out = check(tmp_path, capsys)
    assert code == 1
    assert f"{tmp_path / 'en/nul.md'}:4: error: the file holds binary data" in out
    assert f"{tmp_path / 'en/latin1.md'}:2: error: the file is not UTF-8 text" in out


def test_loader_symlink_out_replacing_a_live_article_keeps_its_last_good_version(
    tmp_path: Path,
) -> None:
    write(tmp_path, "outside/secret.md", "---\ntitle: Secret\n---\nroot:x:0:0\n")
    kb_dir = tmp_path / "kb"
    path = write(kb_dir, "en/good.md", GOOD)
    first = load_knowledge_base(kb_dir)
    path.unlink()
    path.symlink_to(tmp_path / "outside/secret.md")
    second = load_knowledge_base(kb_dir, first)
    assert second.articles == first.articles
    assert [s.code for s in second.report.skipped] == ["symlink-outside"]
    assert second.report.kept == ("en/good.md",)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 200_000, id="200k ["),
        pytest.param("`" * 200_000, id="200k backticks"),
        pytest.param("[a](" * 50_000, id="50k [a]("),
        pytest.param("**[" * 60_000, id="60k **["),
    ],
)
def test_loader_pathological_markdown_is_served_cut_to_a_few_messages(
    tmp_path: Path, body: str
) -> None:
    write(tmp_path, "en/odd.md", f"---\ntitle: Odd\n---\n{body}\n")
    kb = load_knowledge_base(tmp_path)
    article = kb.articles["en/odd"]
    assert [p.code for p in kb.problems] == ["too-long"]
    # Markup-dense text grows when rendered (** -> <b></b>): still a few messages, not 50.
    assert len(split_html(article_blocks(article, inline_steps=True))) <= 6


def test_kb_check_a_200k_character_article_is_cut_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraphs = [f"Paragraph {i}: " + "words in a long manual. " * 7 for i in range(1050)]
    write(tmp_path, "en/manual.md", "---\ntitle: Manual\n---\n" + "\n\n".join(paragraphs))
    code, out = check(tmp_path, capsys)
    assert code == 0  # served, with a warning
    assert f"{tmp_path / 'en/manual.md'}:4: warning: the article is 19" in out
    assert (
        "characters long: a chat answer should be short, so only the first 12,000 are sent" in out
    )
    article = load_knowledge_base(tmp_path).articles["en/manual"]
    assert article.body.endswith("…")
    assert article.body.startswith("Paragraph 0:")
    messages = split_html(article_blocks(article, inline_steps=True))
    assert 2 <= len(messages) <= 4


def test_loader_a_looping_symlink_is_an_error_and_the_rest_is_served(tmp_path: Path) -> None:
    write(tmp_path, "en/good.md", GOOD)
    (tmp_path / "en/loop.md").symlink_to(tmp_path / "en/loop.md")
    kb = load_knowledge_base(tmp_path)
    assert list(kb.articles) == ["en/good"]
    assert [(s.path, s.code) for s in kb.report.skipped] == [("en/loop.md", "symlink-outside")]
