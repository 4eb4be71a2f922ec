"""Benchmark `kb check` and the loader on a hostile knowledge base (issue 11).

Builds, in a temporary directory, a knowledge base an attacker or a careless editor could
produce: a 500-byte YAML alias bomb, a 50 MB article, symlinks leaving the knowledge base
(a file and a folder), binary and non-UTF-8 `.md` files, pathological markdown (a line of
200k `[`, 200k backticks, 50k `[a](`), 100k tags in front matter, a 200k-character article,
and one good article.
Printed:
  1. each hostile file alone next to a good article: `kb check` time and peak RSS;
  2. the whole hostile knowledge base: `kb check` time and peak RSS against the target
     (under 10 s), its last lines and exit code;
  3. the loader as a running bot uses it: a good knowledge base loaded, then turned hostile
     (its good article rewritten into an alias bomb) and reloaded with the previous load:
     the reload time, whether the good article is still served, and what the report says.

Each run is a child process with a time limit (--timeout, 60 s) and an address-space cap
(--memory-mb, 3000), so the old code's hangs show as "timed out" instead of eating the
machine. Run: python benchmarks/bench_hostile_kb.py [--timeout 60] [--memory-mb 3000]
Nothing is asserted: speed is measured here, not unit-tested.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0
GOOD = "---\ntitle: Card payment declined\n---\nYour bank may decline a payment.\n"
FRONT = "---\ntitle: {title}\n---\n"


def alias_bomb() -> str:
    """About 500 bytes of front matter that expand to 9^9 (387 million) strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghi"
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return "---\ntitle: Bomb\n" + "\n".join(lines) + "\ntags: *i\n---\nText.\n"


def _write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def _huge(root: Path, rel: str) -> None:
    """A 50 MB article, written in pieces (the benchmark itself never holds it whole)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    line = ("All work and no play makes a long article. " * 20 + "\n").encode()
    with path.open("wb") as out:
        out.write(FRONT.format(title="Huge").encode())
        written = 0
        while written < 50 * 1024 * 1024:
            out.write(line)
            written += len(line)


def _link(root: Path, rel: str, target: Path) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).symlink_to(target, target_is_directory=target.is_dir())


def _outside(base: Path) -> Path:
    outside = base / "outside"
    _write(outside, "secret.md", "---\ntitle: Secret\n---\nroot:x:0:0:root:/root:/bin/bash\n")
    _write(outside, "folder/other.md", "---\ntitle: Other\n---\nNot for users.\n")
    return outside


HOSTILE: dict[str, Callable[[Path, Path], None]] = {
    "alias bomb (500 B of YAML)": lambda kb, _: _write(kb, "en/bomb.md", alias_bomb()),
    "50 MB article": lambda kb, _: _huge(kb, "en/huge.md"),
    "symlink to a file outside": lambda kb, out: _link(kb, "en/passwd.md", out / "secret.md"),
    "symlink to a folder outside": lambda kb, out: _link(kb, "en/linked", out / "folder"),
    "100k tags in front matter": lambda kb, _: _write(
        kb, "en/tags.md", "---\ntitle: Tags\ntags: [" + "a," * 99_000 + "b]\n---\nText.\n"
    ),
    "binary .md": lambda kb, _: _write(kb, "en/binary.md", bytes(range(256)) * 64),
    "NUL bytes in UTF-8 .md": lambda kb, _: _write(
        kb, "en/nul.md", FRONT.format(title="Nul") + "text\x00" * 1000
    ),
    "a line of 200k [": lambda kb, _: _write(
        kb, "en/brackets.md", FRONT.format(title="Brackets") + "[" * 200_000 + "\n"
    ),
    "200k backticks": lambda kb, _: _write(
        kb, "en/ticks.md", FRONT.format(title="Ticks") + "`" * 200_000 + "\n"
    ),
    "50k '[a](' in a row": lambda kb, _: _write(
        kb, "en/links.md", FRONT.format(title="Links") + "[a](" * 50_000 + "\n"
    ),
    "200k-character article": lambda kb, _: _write(
        kb,
        "en/long.md",
        FRONT.format(title="Long")
        + "\n\n".join(f"Paragraph {i}: " + "words in a manual. " * 10 for i in range(970)),
    ),
}


def _limits(memory_mb: int) -> Callable[[], None]:
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.nice(10)

    return apply


def _run(argv: list[str], timeout: float, memory_mb: int) -> tuple[str, float, float, str]:
    """(status, seconds, peak RSS in MB, output) of one child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=_limits(memory_mb),
        text=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
        status = f"exit {process.returncode}"
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        status = "TIMED OUT"
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if "MemoryError" in out:
        status += " (MemoryError)"
    return status, elapsed, peak, out


def _kb_check(kb: Path, timeout: float, memory_mb: int) -> tuple[str, float, float, str]:
    return _run(
        ["-m", "supportbot", "kb", "check", str(kb), "--no-embeddings"], timeout, memory_mb
    )


LOADER_SCRIPT = """
import sys, time
from pathlib import Path
from supportbot.knowledge.loader import load_knowledge_base
kb = Path(sys.argv[1])
first = load_knowledge_base(kb)
print("first load:", sorted(first.articles))
(kb / "en/good.md").write_text(sys.argv[2], encoding="utf-8")
started = time.perf_counter()
second = load_knowledge_base(kb, first)
print(f"reload: {time.perf_counter() - started:.2f} s")
print("served after the reload:", sorted(second.articles))
report = getattr(second, "report", None)
if report is not None:
    for skipped in report.skipped:
        print("skipped:", skipped.path, "-", skipped.reason)
    print("kept last good:", list(report.kept))
"""


def main() -> int:
    """Build the hostile knowledge base and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--memory-mb", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = _outside(base)
        print("1. each hostile file alone (with one good article), `kb check --no-embeddings`")
        for index, (name, make) in enumerate(HOSTILE.items()):
            kb = base / f"single{index}"
            _write(kb, "en/good.md", GOOD)
            make(kb, outside)
            status, elapsed, peak, out = _kb_check(kb, args.timeout, args.memory_mb)
            last = out.strip().splitlines()[-1:] or [""]
            print(f"   {name:<30} {elapsed:6.2f} s  {status:<14} {last[0][:70]}")
        print(f"   (peak RSS of the largest child so far: {peak:.0f} MB)")

        kb = base / "hostile"
        _write(kb, "en/good.md", GOOD)
        for make in HOSTILE.values():
            make(kb, outside)
        print("\n2. the whole hostile knowledge base, `kb check --no-embeddings`")
        status, elapsed, peak, out = _kb_check(kb, args.timeout, args.memory_mb)
        verdict = "OK" if elapsed < TARGET_S and status != "TIMED OUT" else "MISSED"
        print(f"   time: {elapsed:.2f} s (target < {TARGET_S:.0f} s: {verdict}); {status}")
        print(f"   peak RSS (largest child): {peak:.0f} MB")
        for line in out.strip().splitlines()[-14:]:
            print(f"   | {line[:150]}")

        print("\n3. the loader of a running bot: a good base, then its article turns hostile")
        live = base / "live"
        _write(live, "en/good.md", GOOD)
        status, elapsed, _, out = _run(
            ["-c", LOADER_SCRIPT, str(live), alias_bomb()], args.timeout, args.memory_mb
        )
        print(f"   {status} in {elapsed:.2f} s")
        for line in out.strip().splitlines()[-8:]:
            print(f"   | {line[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
