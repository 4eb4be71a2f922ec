"""Benchmark the suggester: model time vs a full decision, batching, index sizes, reloads.

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_suggester.py [--kb knowledge_base]
Prints figures and ratios; nothing here is asserted (speed is measured, not unit-tested).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from supportbot.app import LiveKnowledge, build_embedders
from supportbot.config import EncoderSettings
from supportbot.retrieval.embedders import SentenceTransformerEmbedder
from supportbot.retrieval.index import FaissVectorIndex
from supportbot.retrieval.suggester import SuggesterParams
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache

QUERIES = [
    "my card was declined when paying for premium",
    "не приходит код для входа",
    "how do i delete my profile",
    "kak udalit stranicu",
    "почему отклонили рекламу",
    "i want to talk to a human",
    "video upload stuck at 99%",
    "как заблокировать пользователя",
]


def _time_per_call(fn: object, items: list[str], repeat: int = 5) -> float:
    call = fn  # type: ignore[assignment]
    for item in items:
        call(item)  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            call(item)
        samples.append((time.perf_counter() - started) / len(items))
    return statistics.median(samples) * 1000


def _index_figures() -> None:
    rng = np.random.default_rng(0)
    print("\nFAISS index (384-d, inner product): build and query latency")
    for n in (1_000, 10_000, 100_000):
        vectors = rng.standard_normal((n, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        started = time.perf_counter()
        index = FaissVectorIndex(vectors)
        build = time.perf_counter() - started
        queries = vectors[rng.integers(0, n, 200)]
        started = time.perf_counter()
        for q in queries:
            index.search(q, 40)
        query_ms = (time.perf_counter() - started) / len(queries) * 1000
        kind = "HNSW" if n >= 50_000 else "flat"
        print(f"  {n:>7} chunks ({kind}): build {build:7.2f} s   query {query_ms:6.3f} ms")


def _article_to_edit(root: Path) -> Path:
    return sorted(root.rglob("*.md"))[0]


async def _reload_figure(live: LiveKnowledge, root: Path) -> float:
    target = await asyncio.to_thread(_article_to_edit, root)
    text = await asyncio.to_thread(target.read_text, encoding="utf-8")
    marker = "zebracorn quantum refund"
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(live.watch(debounce_ms=300, stop_event=stop))
        await asyncio.sleep(1.0)  # let the watcher start
        started = time.perf_counter()
        edited = text.replace("questions:", f"questions:\n  - {marker}", 1)
        await asyncio.to_thread(target.write_text, edited, encoding="utf-8")
        while True:
            decision = await live.suggester.decide(marker)
            best = decision.best
            if best is not None and best.matched.startswith(marker):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
    return elapsed


async def main(kb: Path) -> None:
    logging.basicConfig(level=logging.WARNING)
    encoders = [
        EncoderSettings(),
        EncoderSettings(backend="use", model="use-multilingual-v3"),
    ]
    started = time.perf_counter()
    embedders = build_embedders(encoders)
    print(f"model load: {time.perf_counter() - started:.2f} s")

    workdir = Path(tempfile.mkdtemp())
    root = workdir / "kb"
    shutil.copytree(kb, root)
    started = time.perf_counter()
    live = await LiveKnowledge.load(root, embedders, InMemoryEmbeddingCache(), SuggesterParams())
    build = time.perf_counter() - started
    snap = live.suggester.snapshot
    print(
        f"knowledge base: {len(snap.articles)} articles, {len(snap.chunks)} chunks, "
        f"cold build (embed + index + fit) {build:.2f} s"
    )

    minilm = embedders[0]
    assert isinstance(minilm, SentenceTransformerEmbedder)
    raw_model = minilm._model  # the plain model, as a user of sentence-transformers calls it
    raw_ms = _time_per_call(
        lambda q: raw_model.encode([q], normalize_embeddings=True, show_progress_bar=False),
        QUERIES,
    )
    decide_ms = _time_per_call(live.suggester.decide_sync, QUERIES)
    print("\nOne message (median of 5 runs over 8 messages, ru+en):")
    print(f"  raw all-MiniLM-L6-v2 encode:  {raw_ms:6.2f} ms")
    print(f"  full decision:                {decide_ms:6.2f} ms")
    print(f"  ratio decision / raw model:   {decide_ms / raw_ms:6.2f}x  (budget 1.5x)")

    batch = QUERIES * 32
    started = time.perf_counter()
    for q in batch[:64]:
        live.suggester.decide_sync(q)
    single_qps = 64 / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(0, len(batch), 32):
        live.suggester.decide_batch_sync(batch[i : i + 32])
    batch_qps = len(batch) / (time.perf_counter() - started)
    print(
        f"\nthroughput: {single_qps:6.1f} decisions/s one by one, "
        f"{batch_qps:6.1f} decisions/s in batches of 32 ({batch_qps / single_qps:.1f}x)"
    )

    _index_figures()

    elapsed = await _reload_figure(live, root)
    print(f"\nedited article served after {elapsed:.2f} s (watcher debounce 0.3 s)")
    shutil.rmtree(workdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", type=Path, default=Path("knowledge_base"))
    asyncio.run(main(parser.parse_args().kb))
