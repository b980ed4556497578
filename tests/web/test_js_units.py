"""Runs the in-browser unit tests of the web client's protocol and domain layers.

Each ``export (async) function test_*`` in ``tests/web/js/*.test.js`` becomes one pytest
item. The modules load from the static server under the production CSP, so the code runs
exactly as the browser would load it: native ES modules, no build step.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Page

from tests.web.conftest import JS_TESTS, launch_browser, static_app

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

_EXPORT = re.compile(r"^export (?:async )?function (test_\w+)", re.MULTILINE)


def _cases() -> list[tuple[str, str]]:
    return [
        (path.name, name)
        for path in sorted(JS_TESTS.glob("*.test.js"))
        for name in _EXPORT.findall(path.read_text())
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def unit_page() -> AsyncIterator[Page]:
    from aiohttp.test_utils import TestServer

    server = TestServer(static_app(), host="127.0.0.1")
    await server.start_server()
    async with launch_browser() as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(str(server.make_url("/")))
        yield page
    await server.close()


@pytest.mark.parametrize(("module", "name"), _cases())
async def test_js(unit_page: Page, module: str, name: str) -> None:
    result = await unit_page.evaluate(
        """async ([module, name]) => {
            try {
                const mod = await import(`/tests/${module}`);
                await mod[name]();
                return null;
            } catch (err) {
                return `${err && err.stack || err}`;
            }
        }""",
        [module, name],
    )
    assert result is None, result
