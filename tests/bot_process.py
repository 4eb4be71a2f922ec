"""`supportbot run` as a real child process against a fake Bot API: start, kill -9, restart.

The fake server (tests/faketg.py) runs in the caller's event loop; the bot is a separate
Python process that talks to it over HTTP on 127.0.0.1 through `telegram.api_base`, with
its own SQLite database in a working directory, exactly as `supportbot run` runs in
production. So a crash is a real crash: `kill()` sends SIGKILL and nothing in the bot gets
to clean up.

Usage::

    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_chat(STAFF, is_forum=True, title="Staff")
        bot = BotProcess.prepare(tmp_path, tg.base_url, token=TOKEN, staff_chat_id=STAFF)
        await bot.start(tg)           # returns once the bot polls for updates
        ...
        await bot.kill()              # kill -9
        await bot.start(tg)           # same database
        await bot.stop()              # SIGTERM, graceful
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faketg import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]

# A small help center with titles that never contain one another, so a reply names the
# article it answers. (slug, title, questions, body)
ARTICLES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("card", "Card payment declined", ("my card was declined", "payment fails with my visa"),
     "Your bank may decline a payment: check the limits and call the bank."),
    ("delete", "Delete your profile", ("how to delete my account", "remove my profile forever"),
     "Open Settings, then Profile, then Delete."),
    ("password", "Reset a forgotten password", ("i forgot my password", "cant log in password"),
     "Tap Forgot password on the login screen and follow the link we send."),
    ("refund", "Refund for a cancelled order", ("how do i get a refund", "money back for order"),
     "Refunds reach your card within 5 working days after the cancellation."),
    ("delivery", "Where is my parcel", ("where is my parcel", "track my delivery status"),
     "The tracking number is in the order; couriers update it every few hours."),
    ("address", "Change the delivery address", ("change delivery address", "wrong address"),
     "Until the parcel is shipped, edit the address in the order."),
    ("email", "Change your email address", ("change my email", "update email on my account"),
     "Settings, Account, Email: we send a code to the new address."),
    ("phone", "Change your phone number", ("change phone number", "new phone number login"),
     "Settings, Account, Phone: confirm with the code we text you."),
    ("twofa", "Two-factor authentication", ("enable two factor auth", "2fa code not arriving"),
     "Turn it on in Security; codes come by SMS or an authenticator app."),
    ("invoice", "Download an invoice", ("download invoice pdf", "need a receipt for my order"),
     "Orders, then the order, then Invoice: a PDF opens."),
    ("subscription", "Cancel the subscription", ("cancel my subscription", "stop auto renewal"),
     "Settings, Subscription, Cancel: it runs until the paid period ends."),
    ("promo", "Promo code does not work", ("promo code not working", "discount code invalid"),
     "Check the code's dates and the minimum order amount."),
    ("app", "The app crashes on start", ("app crashes on start", "application closes itself"),
     "Update the app and restart the phone; then reinstall if it still crashes."),
    ("notifications", "No notifications arrive", ("no push notifications", "alerts not coming"),
     "Allow notifications for the app in the phone's settings."),
    ("language", "Switch the interface language", ("change app language", "interface language"),
     "Settings, Language: pick one from the list."),
    ("warranty", "Warranty repair", ("warranty repair request", "broken item under warranty"),
     "Send the receipt and a photo of the fault; we arrange the repair."),
    ("exchange", "Exchange an item for another size", ("exchange for another size", "swap size"),
     "Within 14 days, bring the item with its label to any store."),
    ("giftcard", "Gift card balance", ("check gift card balance", "how much left on gift card"),
     "Enter the card number on the Gift cards page to see the balance."),
    ("loyalty", "Loyalty points missing", ("loyalty points missing", "bonus points not added"),
     "Points arrive 48 hours after delivery; write to us if they do not."),
    ("stores", "Store opening hours", ("store opening hours", "when is the shop open"),
     "Every store's hours are on the Stores page."),
    ("export", "Export your data", ("export my data", "download all my personal data"),
     "Settings, Privacy, Export: we email an archive within a day."),
    ("business", "Business account", ("open business account", "company account for invoices"),
     "Apply on the Business page with your company's registration number."),
    ("cashback", "Cashback not credited", ("cashback not credited", "where is my cashback"),
     "Cashback is credited at the end of the month for delivered orders."),
    ("review", "Leave a product review", ("how to write a review", "rate a product i bought"),
     "Open the order and press Review under the item."),
)  # fmt: skip


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the parent dies, however (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def write_knowledge_base(root: Path) -> Path:
    """The help center above as markdown files under `root` (English)."""
    folder = root / "en"
    folder.mkdir(parents=True, exist_ok=True)
    for slug, title, questions, body in ARTICLES:
        listed = "\n".join(f"  - {q}" for q in questions)
        text = f"---\ntitle: {title}\nquestions:\n{listed}\n---\n{body}\n"
        (folder / f"{slug}.md").write_text(text, encoding="utf-8")
    return root


@dataclass
class BotProcess:
    """One `supportbot run` child process (restartable) and where it writes."""

    workdir: Path
    config: Path
    log: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls,
        workdir: Path,
        base_url: str,
        *,
        token: str,
        staff_chat_id: int | None,
        staff_messages_per_minute: int = 10_000,
        capacity: int = 50,
        flood_messages: int = 20,
        log_level: str = "INFO",
    ) -> BotProcess:
        """A config, a knowledge base and a log file in `workdir` for a bot on `base_url`.

        The encoder is the deterministic hashing stand-in (no model to load), so a start
        takes seconds; every other setting is the product's default unless named here.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        kb = write_knowledge_base(workdir / "kb")
        lines = [
            f'log_level = "{log_level}"',
            "[telegram]",
            f'token = "{token}"',
            f'api_base = "{base_url}"',
            "[telegram.flood]",
            f"messages = {flood_messages}",
            "[knowledge_base]",
            f'dir = "{kb}"',
            "watch = false",
            "[storage]",
            f'database = "{workdir / "bot.sqlite3"}"',
            "[retrieval]",
            "fit_weights = false",
            "[[retrieval.encoders]]",
            'backend = "hashing"',
        ]
        if staff_chat_id is not None:
            lines += [
                "[desk]",
                f"staff_chat_id = {staff_chat_id}",
                'language = "en"',
                f"capacity = {capacity}",
                "require_category = false",
                f"staff_messages_per_minute = {staff_messages_per_minute}",
            ]
        config = workdir / "config.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return cls(workdir=workdir, config=config, log=workdir / "bot.log")

    @property
    def pid(self) -> int | None:
        """The running process's id (None when not running)."""
        return self.process.pid if self.alive and self.process is not None else None

    @property
    def alive(self) -> bool:
        """True while the child process runs."""
        return self.process is not None and self.process.returncode is None

    async def start(self, tg: FakeTelegram, *, within_s: float = 120.0) -> None:
        """Start the bot and return once it polls the fake for updates."""
        if self.alive:
            raise RuntimeError("the bot is already running")
        since = len(tg.calls)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **self.env,
        }
        with self.log.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1} ===\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "supportbot",
                "--config",
                str(self.config),
                "run",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.starts += 1
        waiting = asyncio.create_task(tg.wait_for("getUpdates", timeout=within_s, since=since))
        exited = asyncio.create_task(self.process.wait())
        done, _ = await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiting, exited):
            task.cancel()
        if exited in done and waiting not in done:
            raise RuntimeError(f"the bot exited at start; see {self.log}")
        await waiting

    async def kill(self) -> None:
        """kill -9: no shutdown, no confirmation of updates, nothing flushed."""
        if self.process is None or not self.alive:
            return
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills += 1

    async def stop(self, *, within_s: float = 60.0) -> int | None:
        """SIGTERM (a graceful stop), SIGKILL if it takes longer than `within_s`."""
        process = self.process
        if process is None or not self.alive:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), within_s)
        except TimeoutError:
            await self.kill()
            return None

    def rss_mib(self) -> float | None:
        """Resident memory of the bot process now, in MiB (None when not running)."""
        pid = self.pid
        if pid is None:
            return None
        try:
            status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def log_text(self) -> str:
        """Everything the bot wrote to stdout/stderr over all its starts."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def kill_now(self) -> None:
        """Synchronous last resort (atexit, a failing test): SIGKILL if still running."""
        process: Any = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
