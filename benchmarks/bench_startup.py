"""Benchmark start-up: `ask`, `kb check` and the bot, each beside `import sentence_transformers`.

Every figure is a ratio to a reference timed in the same run (the machine is shared and
noisy): the wall time of `python -c "import sentence_transformers"`, the floor of any
command that loads a model. Runs are interleaved (reference, command, reference, ...) and
the median of each is taken.

- `supportbot ask` with an unchanged knowledge base (cache warmed by one untimed run):
  target <= 1.5x the reference.
- `supportbot kb check --no-embeddings`: target < 3 s; `kb check` with the near-duplicate
  check (loads one encoder) for comparison.
- `supportbot run` to its first getUpdates on the fake Bot API (tests/faketg.py), warm
  cache: target <= 1.3x the reference; then the bot answers messages and its peak RSS is
  read (target <= 600 MB with the shipped knowledge base).

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_startup.py [--runs 3] [--kb knowledge_base]
Nothing is asserted: speed is measured, not unit-tested.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from faketg import Call, FakeTelegram  # noqa: E402

TOKEN = "123456:BENCH-STARTUP"
PYTHON = sys.executable
MESSAGES = ["my card was declined", "забыл пароль", "how do i delete my profile"]


def _env(database: Path, kb: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
    env.update(
        PYTHONPATH=str(ROOT / "src"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        SUPPORTBOT_STORAGE__DATABASE=str(database),
        SUPPORTBOT_KNOWLEDGE_BASE__DIR=str(kb),
        SUPPORTBOT_KNOWLEDGE_BASE__WATCH="false",
        **extra,
    )
    return env


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) of each command's runs


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], env: dict[str, str], name: str = "") -> float:
    """Wall seconds of one run; its CPU seconds go to CPU[name] (less sensitive to the
    other processes of a busy machine than the wall time)."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - started
    CPU.setdefault(name or cmd[-1], []).append(_children_cpu() - cpu)
    return wall


def _reference(env: dict[str, str]) -> float:
    return _timed([PYTHON, "-c", "import sentence_transformers"], env, "reference")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _bot_start(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from `supportbot run` to its first getUpdates, and its peak RSS (MB) after
    answering a few messages."""
    tg = FakeTelegram(token=TOKEN)
    await tg.start()
    env = {
        **env,
        "SUPPORTBOT_TELEGRAM__TOKEN": TOKEN,
        "SUPPORTBOT_TELEGRAM__API_BASE": tg.base_url,
    }
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "supportbot",
        "run",
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await tg.wait_for(lambda c: c.method == "getUpdates", timeout=600)
        polling = time.perf_counter() - started
        for i, text in enumerate(MESSAGES * 3):
            since = len(tg.calls)
            user = 1000 + i

            def reply(call: Call, uid: int = user) -> bool:
                return call.method == "sendMessage" and call.params.get("chat_id") == uid

            tg.user_message(user, text, language_code="en")
            await tg.wait_for(reply, timeout=120, since=since)
        rss = _peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
        await tg.stop()
    return polling, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kb", type=Path, default=ROOT / "knowledge_base")
    parser.add_argument("--skip-bot", action="store_true", help="no `supportbot run` figure")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        _measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _measure(args: argparse.Namespace, workdir: Path) -> None:
    env = _env(workdir / "cache.sqlite3", args.kb.resolve())
    ask = [PYTHON, "-m", "supportbot", "ask", "my card was declined"]
    started = time.perf_counter()
    subprocess.run(ask, env=env, check=True, capture_output=True, cwd=ROOT)
    print(f"first `ask` (cold cache: embeds and fits): {time.perf_counter() - started:.1f} s")

    refs: list[float] = []
    asks: list[float] = []
    checks: list[float] = []
    full_checks: list[float] = []
    bots: list[float] = []
    rss: list[float] = []
    for _ in range(args.runs):
        refs.append(_reference(env))
        asks.append(_timed(ask, env, "ask"))
        checks.append(
            _timed([PYTHON, "-m", "supportbot", "kb", "check", "--no-embeddings"], env, "check")
        )
        full_checks.append(_timed([PYTHON, "-m", "supportbot", "kb", "check"], env, "full"))
        refs.append(_reference(env))
        if not args.skip_bot:
            polling, peak = asyncio.run(_bot_start(env))
            bots.append(polling)
            rss.append(peak)
            refs.append(_reference(env))

    ref = statistics.median(refs)
    ref_cpu = statistics.median(CPU["reference"])
    print(
        f"\nreference `import sentence_transformers`: {ref:.2f} s wall, {ref_cpu:.2f} s CPU "
        f"(median of {len(refs)})"
    )
    row = "  {:<44} {:>7.2f} s  {:>5.2f}x   target {}"
    print(
        row.format(
            "`supportbot ask` (unchanged KB)",
            statistics.median(asks),
            statistics.median(asks) / ref,
            "<= 1.5x",
        )
    )
    ask_cpu = statistics.median(CPU["ask"])
    print(f"  {'  the same in CPU seconds':<44} {ask_cpu:>7.2f} s  {ask_cpu / ref_cpu:>5.2f}x")
    check = statistics.median(checks)
    print(row.format("`kb check --no-embeddings`", check, check / ref, "< 3 s"))
    full = statistics.median(full_checks)
    print(row.format("`kb check` (near-duplicates: loads an encoder)", full, full / ref, "-"))
    if bots:
        bot = statistics.median(bots)
        print(row.format("`supportbot run` to polling (warm cache)", bot, bot / ref, "<= 1.3x"))
        print(
            f"  peak RSS of the running bot after {len(MESSAGES) * 3} messages: "
            f"{max(rss):.0f} MB   target <= 600 MB"
        )


if __name__ == "__main__":
    main()
