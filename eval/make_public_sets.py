"""Build the public evaluation sets under eval/ from their downloaded source files.

Standard library only, deterministic (one seed per set), never downloads anything: get the
source files first (see each set's README.md, "Rebuild"), then run for example

    python eval/make_public_sets.py --source /tmp/sources
    python eval/make_public_sets.py --source /tmp/sources --only banking77-en

Each set is described by eval/<set>/spec.json, written by hand: for every kept intent the
article's title, category and body (help-center text we wrote, not taken from the data), the
intents held out as out of scope with the reason, and the sampling sizes. From the source the
script takes, per kept intent, `questions` example questions from the TRAIN split (front
matter) and `messages_per_intent` messages from the TEST split (queries-<lang>.jsonl with the
article id as "expected"); every held-out intent gives `messages_per_held_out` test messages
with "expected": null. The judged messages are never looked at to choose anything.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EVAL_DIR = Path(__file__).resolve().parent
Examples = dict[str, dict[str, list[str]]]
"""split ("train" / "test") -> intent -> utterances, in source order."""


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _dedupe(texts: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        text = " ".join(text.split())
        key = _norm(text)
        if text and key and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def load_banking77(root: Path) -> Examples:
    """banking_data/train.csv and test.csv (columns text, category)."""
    data: Examples = {}
    for split in ("train", "test"):
        with (root / "banking_data" / f"{split}.csv").open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                data.setdefault(split, {}).setdefault(row["category"], []).append(row["text"])
    return data


HWU_FOLD = (
    "CrossValidation/autoGeneFromRealAnno/autoGene_2018_03_22-13_01_25_169/CrossValidation/KFold_1"
)


def load_hwu64(root: Path) -> Examples:
    """Fold 1 of the authors' 10-fold split: trainset/<intent>.csv, testset/csv/<intent>.csv."""
    fold = root / HWU_FOLD
    data: Examples = {}
    for split, folder in (("train", fold / "trainset"), ("test", fold / "testset" / "csv")):
        for path in sorted(folder.glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f, delimiter=";"):
                    intent = f"{row['scenario']}_{row['intent']}"
                    data.setdefault(split, {}).setdefault(intent, []).append(
                        row["answer_from_anno"]
                    )
    return data


def load_autointent(root: Path, questions_file: str, messages_file: str) -> Examples:
    """Two few-shot samples of one dataset's train split, as AutoIntent saved them (a list of
    {"intent_name", "sample_utterances"}): the first gives the articles' questions, the
    utterances of the second that the first lacks are the messages."""
    data: Examples = {"train": {}, "test": {}}
    for split, name in (("train", questions_file), ("test", messages_file)):
        for record in json.loads((root / name).read_text("utf-8")):
            data[split].setdefault(record["intent_name"], []).extend(record["sample_utterances"])
    for intent, texts in data["test"].items():
        seen = {_norm(t) for t in data["train"].get(intent, [])}
        data["test"][intent] = [t for t in texts if _norm(t) not in seen]
    return data


LOADERS: dict[str, Callable[[Path, dict[str, str]], Examples]] = {
    "banking77": lambda root, _: load_banking77(root),
    "hwu64": lambda root, _: load_hwu64(root),
    "autointent": lambda root, args: load_autointent(
        root, args["questions_file"], args["messages_file"]
    ),
}


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def render_article(article_id: str, lang: str, spec: dict[str, str], questions: list[str]) -> str:
    lines = [
        "---",
        f"id: {article_id}",
        f"title: {_yaml_str(spec['title'])}",
        f"lang: {lang}",
        f"category: {spec['category']}",
        "questions:",
        *(f"  - {_yaml_str(q)}" for q in questions),
        "---",
        spec["body"],
        "",
    ]
    return "\n".join(lines)


def article_id_for(intent: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", intent.lower()).strip("-")


def build_language(
    spec: dict[str, Any], lang: str, data: Examples, rng: random.Random, out_dir: Path
) -> dict[str, int]:
    """Write knowledge_base/<lang>/... and queries-<lang>.jsonl; return the counts."""
    articles: dict[str, dict[str, str]] = spec["articles"][lang]
    held_out: dict[str, str] = spec["held_out"]
    k_questions = spec["questions"]
    per_intent = spec["messages_per_intent"]
    per_held_out = spec["messages_per_held_out"]
    kb_dir = out_dir / "knowledge_base" / lang
    kb_questions: set[str] = set()
    queries: list[dict[str, str | None]] = []
    for intent in sorted(articles):
        train = _dedupe(data["train"][intent])
        questions = rng.sample(train, min(k_questions, len(train)))
        kb_questions.update(_norm(q) for q in questions)
        article_id = article_id_for(intent)
        path = kb_dir / articles[intent]["category"] / f"{article_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_article(article_id, lang, articles[intent], questions), "utf-8")
    verbatim = 0
    for intent in sorted(set(articles) | set(held_out)):
        expected = article_id_for(intent) if intent in articles else None
        test = _dedupe(data["test"][intent])
        count = per_intent if expected else per_held_out
        for text in rng.sample(test, min(count, len(test))):
            verbatim += _norm(text) in kb_questions
            queries.append({"text": text, "expected": expected})
    rng.shuffle(queries)
    with (out_dir / f"queries-{lang}.jsonl").open("w", encoding="utf-8") as f:
        for query in queries:
            f.write(json.dumps(query, ensure_ascii=False) + "\n")
    out_of_scope = sum(q["expected"] is None for q in queries)
    return {
        "articles": len(articles),
        "queries": len(queries),
        "queries_in_scope": len(queries) - out_of_scope,
        "queries_out_of_scope": out_of_scope,
        "queries_verbatim_in_kb": verbatim,
    }


def build_set(name: str, source_root: Path) -> dict[str, Any]:
    out_dir = EVAL_DIR / name
    spec = json.loads((out_dir / "spec.json").read_text("utf-8"))
    shutil.rmtree(out_dir / "knowledge_base", ignore_errors=True)
    for path in out_dir.glob("queries-*.jsonl"):
        path.unlink()
    counts: dict[str, dict[str, int]] = {}
    for lang, loader_args in spec["languages"].items():
        rng = random.Random(f"{spec['seed']}:{lang}")
        data = LOADERS[spec["loader"]](source_root / spec["source_dir"], loader_args)
        counts[lang] = build_language(spec, lang, data, rng, out_dir)
    manifest = {
        "dataset": spec["dataset"],
        "source": spec["source"],
        "article_split": spec["article_split"],
        "query_split": spec["query_split"],
        "questions_per_article": spec["questions"],
        "messages_per_intent": spec["messages_per_intent"],
        "messages_per_held_out": spec["messages_per_held_out"],
        "held_out": spec["held_out"],
        "left_out": spec.get("left_out", {}),
        "seed": spec["seed"],
        "languages": counts,
        "bodies": "written for this set (spec.json), not taken from the dataset",
        "made_by": "eval/make_public_sets.py",
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        required=True,
        help="folder holding each set's source_dir (see spec.json and README.md)",
    )
    parser.add_argument("--only", action="append", default=[], help="build only this set")
    args = parser.parse_args(argv)
    names = args.only or sorted(p.parent.name for p in EVAL_DIR.glob("*/spec.json"))
    for name in names:
        manifest = build_set(name, args.source)
        print(name, json.dumps(manifest["languages"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
