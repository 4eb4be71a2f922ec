"""`report` and `demo-data` subcommands end to end on a temporary database."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from supportbot.cli import main
from supportbot.commands import demo_data, report
from supportbot.domain.errors import SupportBotError


def _run(argv: list[str]) -> int:
    # The two subcommands registered exactly as cli.py does it, without the others.
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    report.register(sub, "report")
    demo_data.register(sub, "demo-data")
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    path = root / "config.toml"
    path.write_text(
        f'[storage]\ndatabase = "{root / "db.sqlite3"}"\n'
        '[knowledge_base]\ndir = "does-not-exist"\n'
        '[[experiments]]\nname = "suggestions"\n'
        "[experiments.arms.A]\nshare = 0.5\n"
        "[experiments.arms.B]\nshare = 0.5\nmax_suggestions = 5\n",
        encoding="utf-8",
    )
    assert _run(["--config", str(path), "demo-data", "--days", "14", "--per-day", "150"]) == 0
    return path


def _json(config: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "r.json"
    argv = ["--config", str(config), "report", "--since", "7d", "--out", str(out)]
    assert _run([*argv, "--gaps-embedder", "hashing", *extra]) == 0
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_report_json_has_the_documented_keys(config: Path, tmp_path: Path) -> None:
    d = _json(config, tmp_path)
    for key in (
        "period",
        "conversations",
        "first_response_median_s",
        "first_response_p90_s",
        "resolution_median_s",
        "csat",
        "fcr",
        "deflection",
        "handoff_rate",
        "handoff_reasons",
        "categories",
        "articles",
        "content_gaps",
    ):
        assert key in d
    assert d["conversations"] > 500
    for key in ("csat", "fcr", "deflection", "handoff_rate"):
        assert 0.0 <= d[key] <= 1.0
    assert d["first_response_median_s"] > 0
    assert {"low_confidence", "not_helpful", "user_asked"} <= set(d["handoff_reasons"])
    assert d["content_gaps"]
    assert all(t["size"] > 0 and t["examples"] for t in d["content_gaps"])
    text = json.dumps(d["content_gaps"], ensure_ascii=False)
    assert "@" not in text
    assert "4111" not in text
    worst = d["articles"][0]
    assert worst["not_helpful"] + worst["handoff_after"] > 0


def test_report_experiment_compares_arms(config: Path, tmp_path: Path) -> None:
    d = _json(config, tmp_path, "--experiment", "suggestions")
    exp = d["experiment"]
    assert [a["arm"] for a in exp["arms"]] == ["A", "B"]
    assert exp["verdict"]
    assert {c["metric"] for c in exp["comparisons"]} == {
        "deflection",
        "handoff_rate",
        "csat",
        "resolution_time",
    }


def test_report_empty_period_is_null_not_zero(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "old.json"
    argv = ["--config", str(config), "report", "--since", "2001-01-01", "--until", "2001-01-08"]
    assert _run([*argv, "--out", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["conversations"] == 0
    assert d["csat"] is None
    assert d["first_response_median_s"] is None


@pytest.mark.parametrize(("fmt", "marker"), [("md", "# Отчёт поддержки"), ("csv", "section,")])
def test_report_markdown_and_csv(config: Path, tmp_path: Path, fmt: str, marker: str) -> None:
    out = tmp_path / f"r.{fmt}"
    argv = ["--config", str(config), "report", "--since", "7d", "--format", fmt, "--lang", "ru"]
    assert _run([*argv, "--gaps-embedder", "none", "--out", str(out)]) == 0
    assert marker in out.read_text(encoding="utf-8")


def test_report_html_is_self_contained(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    argv = ["--config", str(config), "report", "--since", "7d", "--out", str(out)]
    assert _run([*argv, "--gaps-embedder", "hashing"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 4
    assert "http://" not in page
    assert "https://" not in page


def test_report_bad_time_is_a_user_error(config: Path) -> None:
    with pytest.raises(SupportBotError, match="cannot read the time"):
        _run(["--config", str(config), "report", "--since", "yesterday"])


def _cli(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["report", "--since", "99999999d"], "--since"),
        (["report", "--since", "0001-01-02"], "--since"),
        (["report", "--since", "7d", "--until", "99999999d"], "--until"),
        (["report", "--since", "7d", "--out", "/proc/r.html"], "--out"),
        (["report", "--since", "7d", "--out", "/proc/no-such/dir/r.html"], "--out"),
        (["report", "--since", "7d", "--experiment", "no-such-test"], "--experiment"),
    ],
)
def test_report_bad_options_are_one_line_errors_with_exit_code_2(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    assert _cli(config, *argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    assert option in err[0]
    assert "Traceback" not in err[0]


def test_report_unknown_experiment_lists_the_configured_ones(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(config, "report", "--experiment", "thresholds") == 2
    assert "suggestions" in capsys.readouterr().err


def test_report_unwritable_out_is_a_user_error(config: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "file-not-a-dir"
    target.write_text("", encoding="utf-8")
    with pytest.raises(SupportBotError, match="--out"):
        _run(["--config", str(config), "report", "--out", str(target / "r.html")])


def test_report_html_writes_no_matplotlib_info_lines(
    config: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "r.html"
    assert _cli(config, "report", "--gaps-embedder", "none", "--out", str(out)) == 0
    noisy = [r for r in caplog.records if r.name.startswith("matplotlib")]
    assert all(r.levelno >= logging.WARNING for r in noisy), [r.getMessage() for r in noisy]


@pytest.mark.parametrize(
    ("fmt", "lang"), [("md", "en"), ("md", "ru"), ("html", "en"), ("csv", "ru")]
)
def test_report_shows_operators_by_name_and_readable_handoff_reasons(
    config: Path, tmp_path: Path, fmt: str, lang: str
) -> None:
    out = tmp_path / f"r.{fmt}"
    argv = ["--config", str(config), "report", "--format", fmt, "--lang", lang]
    assert _run([*argv, "--gaps-embedder", "none", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Anna" in page  # demo operators have names
    assert "Farid" in page
    for raw in ("low_confidence", "user_asked", "not_helpful"):
        assert raw not in page
    wanted = "The user asked for a person" if lang == "en" else "Пользователь попросил человека"
    assert wanted in page


def test_report_json_operators_have_every_kpi(config: Path, tmp_path: Path) -> None:
    d = _json(config, tmp_path)
    names = {o["name"] for o in d["operators"]}
    assert names == {"Anna", "Boris", "Carmen", "Dmitry", "Elena", "Farid"}
    for o in d["operators"]:
        assert o["tickets"] > 0
        for key in (
            "first_response_median_s",
            "first_response_p90_s",
            "response_median_s",
            "resolution_median_s",
            "csat",
            "fcr",
            "rating_response_rate",
        ):
            assert o[key] is not None, key
            assert o[key] >= 0, key
    fast = next(o for o in d["operators"] if o["name"] == "Anna")
    slow = next(o for o in d["operators"] if o["name"] == "Farid")
    assert fast["first_response_median_s"] < slow["first_response_median_s"]


def test_report_complete_days_end_at_local_midnight_and_today_is_partial_otherwise(
    config: Path, tmp_path: Path
) -> None:
    from datetime import datetime

    whole = _json(config, tmp_path, "--complete-days")["period"]
    since = datetime.fromisoformat(whole["since"])
    until = datetime.fromisoformat(whole["until"])
    assert (until - since).days == 7
    assert until.timetz().replace(tzinfo=None).isoformat() == "00:00:00"  # UTC: no zone set
    assert whole["partial_days"] == []
    running = _json(config, tmp_path)["period"]
    assert running["since"] == whole["since"]
    assert running["partial_days"] == [until.date().isoformat()]
