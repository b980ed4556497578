"""An open page across a restore of the server's database, in real Chromium.

The restored history hands out again seqs the page already saw, with other changes: a
page resuming its cursor there would keep what the restore undid and skip what came
after. Its cursor carries the epoch, the server's start-up check gives the restored
database a new one, and the page refetches instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import delete, select, update

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_ui import sign_in

pytestmark = pytest.mark.browser

ALICE = "+15550100002"
BOB = "+15550100003"


async def test_a_page_open_across_a_restore_shows_the_restored_history(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    from server.storage.conversations import Inbound
    from server.storage.epochs import rotate_all_epochs
    from server.storage.schema import accounts, messages, threads

    svc: object = ferry.svc
    await ferry.incoming(ALICE, "kept by the backup")
    backup_seq = await svc.conversations.current_seq(ferry.account_id)  # type: ignore[attr-defined]
    await ferry.incoming(BOB, "lost with the restore")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await expect(
        nav.get_by_role("button", name=re.compile("lost with the restore"))
    ).to_be_visible()
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()

    # The database is restored from the backup: Bob's conversation never happened, the
    # seq is back where it was. At start-up the server finds its database older than it
    # last saw it and gives every account a new epoch (server/continuity.py).
    async with svc.engine.begin() as conn:  # type: ignore[attr-defined]
        bob = (await conn.execute(select(threads.c.id).where(threads.c.peer == BOB))).scalar()
        await conn.execute(delete(messages).where(messages.c.thread_id == bob))
        await conn.execute(delete(threads).where(threads.c.id == bob))
        await conn.execute(update(accounts).values(seq=backup_seq))
    await rotate_all_epochs(svc.engine)  # type: ignore[attr-defined]
    svc.feed.clear()  # type: ignore[attr-defined]
    # A new SMS takes the seq Bob's message had, before the page is back.
    line = (await svc.lines.for_account(ferry.account_id))[0].id  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    item = Inbound("after-restore", line, ALICE, "arrived after the restore", now)
    await svc.conversations.ingest_inbound(ferry.account_id, ferry.device_id, [item], now)  # type: ignore[attr-defined]
    assert await svc.conversations.current_seq(ferry.account_id) == backup_seq + 1  # type: ignore[attr-defined]
    await ferry.drop_tabs()  # the server restarted under the page

    row = nav.get_by_role("button", name=re.compile("arrived after the restore"))
    await expect(row).to_be_visible(timeout=15_000)
    await expect(nav.get_by_role("listitem")).to_have_count(1)
    await expect(nav.get_by_text("lost with the restore")).to_have_count(0)
    await row.click()
    log = page.get_by_role("log")
    await expect(log.locator(".bubble")).to_have_text(
        ["kept by the backup", "arrived after the restore"]
    )
    assert problems.messages == []
