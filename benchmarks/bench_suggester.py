"""Benchmark the suggester: model time vs a full decision, batching, index sizes, reloads.

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_suggester.py [--kb knowledge_base] [--scale-only]
     [--sizes 1000,10000,100000]
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
from dataclasses import replace
from pathlib import Path

import numpy as np

from supportbot.app import LiveKnowledge, build_embedders
from supportbot.config import EncoderSettings
from supportbot.domain.models import Article
from supportbot.domain.ports import Embedder
from supportbot.knowledge.loader import load_knowledge_base
from supportbot.retrieval.chunking import article_chunks
from supportbot.retrieval.embedders import HashingEmbedder, SentenceTransformerEmbedder
from supportbot.retrieval.index import FaissVectorIndex
from supportbot.retrieval.suggester import HybridSuggester, SuggesterParams
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


async def _reload_figure(live: LiveKnowledge, root: Path) -> float:
    """Seconds from saving an edited article to the bot serving the edit."""
    target = (await asyncio.to_thread(lambda: sorted(root.rglob("*.md"))))[0]
    text = await asyncio.to_thread(target.read_text, encoding="utf-8")
    marker = "zebracorn quantum refund"
    rel = target.relative_to(root).as_posix()
    article_id = next(a.id for a in live.kb.articles.values() if a.source == rel)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(live.watch(debounce_ms=300, stop_event=stop))
        await asyncio.sleep(1.0)  # let the watcher start
        started = time.perf_counter()
        # A new first paragraph (the end of a guide is its steps section).
        head, sep, body = text.partition("\n---\n")
        edited = f"{head}{sep}{marker}\n\n{body}"
        await asyncio.to_thread(target.write_text, edited, encoding="utf-8")
        try:
            async with asyncio.timeout(120):
                while True:
                    served = live.suggester.article(article_id)
                    if served is not None and marker in served.body:
                        break
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
        return time.perf_counter() - started


def _index_figures() -> None:
    rng = np.random.default_rng(0)
    print("\nFAISS index alone (384-d, inner product): build and query latency")
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


def _replicas(articles: list[Article], chunks_wanted: int) -> list[Article]:
    """Copies of the articles under new ids until they make about `chunks_wanted` chunks."""
    per_round = sum(len(article_chunks(a)) for a in articles)
    rounds = max(1, round(chunks_wanted / per_round))
    return [
        replace(a, id=f"r{i}/{a.id}", title=f"{a.title} ({i})")
        for i in range(rounds)
        for a in articles
    ]


async def _suggester_figures(articles: list[Article], sizes: tuple[int, ...]) -> None:
    """The whole rebuild (FAISS, BM25, n-grams, fuzzy, the fusion fit) and a decision, at
    several sizes; the hashing embedder stands in for the models, whose cost is the
    passages/s printed above."""
    print(
        "\nWhole suggester (index + lexical + fit; model time excluded): build, decision"
        "\n  targets at 100k chunks: build <= 30 s, decision <= 5 ms; peak RSS is the process's"
    )
    for wanted in sizes:
        copies = _replicas(articles, wanted)
        started = time.perf_counter()
        suggester = await HybridSuggester.create(
            copies, [HashingEmbedder()], InMemoryEmbeddingCache(), SuggesterParams()
        )
        build = time.perf_counter() - started
        chunks = len(suggester.snapshot.chunks)
        decide_ms = _time_per_call(suggester.decide_sync, QUERIES, repeat=3)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  {len(copies):>6} articles, {chunks:>7} chunks: build {build:7.1f} s   "
            f"decision {decide_ms:6.2f} ms   peak RSS so far {peak:6.0f} MB",
            flush=True,
        )
        del suggester


def _embedding_throughput(embedders: list[Embedder], texts: list[str]) -> None:
    print("\nEmbedding passages (batches of 32): what a cold start or a big edit costs")
    for embedder in embedders:
        sample = (texts * (1 + 512 // max(1, len(texts))))[:512]
        started = time.perf_counter()
        for i in range(0, len(sample), 32):
            embedder.embed(sample[i : i + 32], query=False)
        rate = len(sample) / (time.perf_counter() - started)
        print(f"  {embedder.key}: {rate:7.0f} passages/s")


async def main(kb: Path, sizes: tuple[int, ...], *, scale_only: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if scale_only:
        articles = list(load_knowledge_base(kb).articles.values())
        await _suggester_figures(sorted(articles, key=lambda a: a.id), sizes)
        return
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

    _embedding_throughput(embedders, [c.text for c in snap.chunks])
    _index_figures()
    await _suggester_figures(list(snap.articles), sizes)

    elapsed = await _reload_figure(live, root)
    print(f"\nedited article served after {elapsed:.2f} s (watcher debounce 0.3 s)")
    shutil.rmtree(workdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", type=Path, default=Path("knowledge_base"))
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="chunk counts for the whole-suggester build figures (comma-separated)",
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="only the whole-suggester figures at --sizes (no model is loaded)",
    )
    args = parser.parse_args()
    sizes = tuple(int(n) for n in args.sizes.split(","))
    asyncio.run(main(args.kb, sizes, scale_only=args.scale_only))
