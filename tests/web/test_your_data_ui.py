"""Settings → Your data, in Chromium: export with progress and its one download, then
imports of an SMS Backup & Restore file and of the export itself (nothing doubled)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from playwright.async_api import Page, expect

from protocol.messages import Attachment
from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_settings_ui import open_settings

pytestmark = pytest.mark.browser

ALICE = "+15550100002"
BOB = "+447700900123"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


async def test_export_download_once_then_import_a_backup(
    page: Page, ferry: LiveFerry, problems: PageProblems, tmp_path: Path
) -> None:
    at = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    await ferry.incoming(ALICE, "Hi there 😀", at)
    await ferry.incoming(
        ALICE, "look", at.replace(minute=31), attachments=(Attachment("image/png", PNG, "a.png"),)
    )
    await ferry.set_contacts([("Alice", ALICE)])
    work = await ferry.add_line("+15550100050", "Work")
    await open_settings(page, ferry)
    section = page.get_by_role("region", name="Your data")
    await expect(section.get_by_text("Nothing exported yet.")).to_be_visible()

    await section.get_by_role("button", name="Export my data").click()
    status = section.get_by_test_id("export-status")
    await expect(status).to_have_text(re.compile(r"Your export is ready \(\d+ KB\)"))
    async with page.expect_download() as info:
        await section.get_by_role("link", name="Download").click()
    download = await info.value
    saved = tmp_path / "export.zip"
    await download.save_as(saved)
    await expect(status).to_have_text("Your export was downloaded and deleted from the server.")
    await expect(section.get_by_role("link", name="Download")).to_be_hidden()
    zf = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    root = ElementTree.fromstring(zf.read("sms-backup.xml"))
    assert [s.get("body") for s in root.iter("sms")] == ["Hi there 😀"]
    assert [m.get("contact_name") for m in root.iter("mms")] == ["Alice"]

    # A phone's backup, with an emoji written as a surrogate pair, is imported.
    backup = tmp_path / "sms-20261001.xml"
    ms = int(at.timestamp() * 1000) + 3_600_000
    backup.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"1\">"
        f'<sms protocol="0" address="{BOB}" date="{ms}" type="1" subject="null" '
        'body="From my old phone &#55357;&#56842;" read="1" status="-1" date_sent="0" />'
        "</smses>"
    )
    importing = section.get_by_test_id("import-status")
    into = section.get_by_label("Import into")
    own = (await ferry.svc.lines.for_account(ferry.account_id))[0].id  # type: ignore[attr-defined]
    await expect(into).to_have_value(str(own))  # the account's own number first
    await into.select_option(label="Work · +15550100050")
    await section.get_by_label("File to import").set_input_files(backup)
    await section.get_by_role("button", name="Import", exact=True).click()
    await expect(importing).to_have_text("Import finished: 1 messages added.")
    conversation = page.get_by_role("button", name=re.compile("From my old phone 😊"))
    await expect(conversation).to_be_visible()

    threads, _ = await ferry.svc.conversations.threads(ferry.account_id)  # type: ignore[attr-defined]
    assert [t.line_id for t in threads if t.peer == BOB] == [work]

    # The export's own backup again, into the first number: nothing doubled.
    await into.select_option(label="+15550100001")
    again = tmp_path / "sms-backup.xml"
    again.write_bytes(zf.read("sms-backup.xml"))
    await section.get_by_label("File to import").set_input_files(again)
    await section.get_by_role("button", name="Import", exact=True).click()
    await expect(importing).to_have_text("Import finished: 0 messages added, 2 were already here.")
    threads, _ = await ferry.svc.conversations.threads(ferry.account_id)  # type: ignore[attr-defined]
    assert sorted(t.peer for t in threads) == [ALICE, BOB]
    assert problems.messages == []
