"""The HTML report in a real headless browser: it opens, its plots decode, nothing is broken."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportbot.analytics.render import to_html
from supportbot.analytics.report import build_report
from supportbot.demo.history import demo_history, load_demo_articles
from supportbot.retrieval.embedders import HashingEmbedder
from supportbot.storage.event_store import DuckDbEventStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs chromium and sets this: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("SUPPORTBOT_REQUIRE_CHROMIUM") == "1"
if CHROMIUM is None and REQUIRED:
    raise RuntimeError("chromium is required (SUPPORTBOT_REQUIRE_CHROMIUM=1) but not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def _build() -> str:
    end = datetime(2024, 6, 1, tzinfo=UTC)
    log = DuckDbEventStore()
    for batch in demo_history(
        days=14, per_day=80, end=end, articles=load_demo_articles(None), seed=3
    ):
        log.append_many(batch)
    emb = HashingEmbedder()
    report = await build_report(
        log, end - timedelta(days=7), end, tz=UTC, embed=lambda t: emb.embed(t, query=True)
    )
    return to_html(report, "en")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Sync on purpose: a module-scoped fixture must not hold a function-scoped event loop.
    path = tmp_path_factory.mktemp("browser") / "report.html"
    path.write_text(asyncio.run(_build()), encoding="utf-8")
    return path


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# The page checks itself once loaded: every image decoded (naturalWidth > 0) and no script
# errors; the verdict lands in the DOM that --dump-dom prints.
_PROBE = """
<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;
  const div = document.createElement('div');
  div.id = 'probe';
  div.textContent = 'images=' + imgs.length + ' broken=' + broken;
  document.body.appendChild(div);
});
</script>
"""


def test_report_opens_in_chromium_with_all_plots(report_file: Path, tmp_path: Path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(
        report_file.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
        encoding="utf-8",
    )
    result = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    match = re.search(r"images=(\d+) broken=(\d+)", dom)
    assert match is not None, dom[-2000:]
    assert int(match.group(1)) == 4
    assert int(match.group(2)) == 0
    assert "<table>" in dom
    assert "Support report" in dom


def test_report_images_are_valid_pngs(report_file: Path) -> None:
    page = report_file.read_text(encoding="utf-8")
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(uris) == 4
    for uri in uris:
        data = base64.b64decode(uri, validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 2000


def test_report_screenshot_renders(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = _chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", report_file.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_report_no_chart_is_empty_in_a_screenshot(report_file: Path, tmp_path: Path) -> None:
    """Each chart, alone on a page as Chromium draws it, shows data in the series colour."""
    from matplotlib.image import imread

    page = report_file.read_text(encoding="utf-8")
    charts = re.findall(r'<img alt="([^"]+)" src="(data:image/png;base64,[^"]+)"', page)
    assert len(charts) == 4
    for number, (title, uri) in enumerate(charts):
        single = tmp_path / f"chart{number}.html"
        single.write_text(
            f'<html><body style="margin:0"><img src="{uri}"></body></html>', encoding="utf-8"
        )
        shot = tmp_path / f"chart{number}.png"
        result = _chromium(
            tmp_path, f"--screenshot={shot}", "--window-size=800,360", single.as_uri()
        )
        assert result.returncode == 0, result.stderr[-2000:]
        pixels = imread(str(shot))[:, :, :3]
        # The first series colour (#1f77b4): lines or bars drawn, not just axes and text.
        blue = (
            (abs(pixels[:, :, 0] - 0x1F / 255) < 0.08)
            & (abs(pixels[:, :, 1] - 0x77 / 255) < 0.08)
            & (abs(pixels[:, :, 2] - 0xB4 / 255) < 0.08)
        )
        assert blue.mean() > 0.001, f"{title}: no data drawn ({blue.mean():.4f})"
        assert "no data" not in title
