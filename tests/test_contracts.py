"""The import rules bite: each import-linter contract breaks on a planted forbidden import.

A copy of the package gets one module with one forbidden import, and `lint-imports` runs
against the copy with the project's own contracts; the contract named must come out
BROKEN. The domain's whitelist (standard library only) is checked by scanning its imports.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "supportbot"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

CONTRACTS = {
    "layers": "Layers: entry points -> app -> adapters -> services -> domain",
    "core": "The core never imports aiogram, aiosqlite, faiss or config",
    "telegram-only": "aiogram and aiohttp live in telegram and app only",
    "sqlite-only": "aiosqlite lives in storage only",
    "domain": "The domain is standard library only",
    "retrieval-only": "faiss and sentence-transformers live in retrieval only",
}

# (where the import is planted, what it imports, the contract that must break)
PLANTS = [
    ("telegram", "supportbot.storage.db", "layers"),
    ("retrieval", "supportbot.storage.db", "layers"),
    ("retrieval", "supportbot.telegram.texts", "layers"),
    ("desk", "supportbot.conversation.engine", "layers"),
    ("domain", "supportbot.desk.models", "layers"),
    ("desk", "supportbot.config", "core"),
    ("conversation", "aiosqlite", "core"),
    ("knowledge", "aiogram", "telegram-only"),
    ("storage", "aiogram", "telegram-only"),
    ("commands", "aiohttp", "telegram-only"),
    ("telegram", "aiosqlite", "sqlite-only"),
    ("domain", "scipy", "domain"),
    ("domain", "pydantic", "domain"),
    ("storage", "faiss", "retrieval-only"),
]


def _lint(root: Path, contract: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")]
    if contract is not None:
        command += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package and its contracts, untouched."""
    root = tmp_path_factory.mktemp("pristine")
    shutil.copytree(PACKAGE, root / "src" / "supportbot", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_contracts_hold_on_the_code_as_it_is() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in result.stdout


@pytest.mark.parametrize(("where", "target", "contract"), PLANTS)
def test_contracts_break_on_a_planted_import(
    pristine: Path, tmp_path: Path, where: str, target: str, contract: str
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    (root / "src" / "supportbot" / where / "_planted.py").write_text(
        f'"""A forbidden import, planted by the test."""\n\nimport {target}\n'
    )
    result = _lint(root, contract)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"{CONTRACTS[contract]} BROKEN" in result.stdout
    assert f"supportbot.{where}._planted" in result.stdout


def _outside_stdlib(path: Path) -> list[str]:
    """Imports of a module that are neither the standard library nor the domain itself."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or name.startswith("supportbot.domain"):
                continue
            found.append(name)
    return found


def test_domain_imports_nothing_but_the_standard_library() -> None:
    offenders = {
        path.name: _outside_stdlib(path)
        for path in sorted((PACKAGE / "domain").glob("*.py"))
        if _outside_stdlib(path)
    }
    assert offenders == {}


def test_domain_whitelist_catches_any_other_package(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import json\nfrom supportbot.domain.models import Lang\nimport attrs\n"
        "from sortedcontainers import SortedList\nfrom supportbot.desk import models\n"
    )
    assert _outside_stdlib(planted) == ["attrs", "sortedcontainers", "supportbot.desk"]
