"""The API's docs page works with no internet: real Chromium renders Swagger UI from files the
API itself serves, and asks no other host for anything."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.live.browser import CHROMIUM, FLAGS
from tests.support.api import Api


def test_docs_page_renders_offline_from_our_own_files(api: Api) -> None:
    from playwright.sync_api import sync_playwright

    origin = urlsplit(api.url).netloc
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{api.url}/api/v1/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            operations = page.locator(".opblock").count()
            title = page.locator(".title").first.inner_text()
        finally:
            browser.close()
    assert operations >= 20, f"Swagger UI listed {operations} operations"
    assert "AgentPod" in title
    foreign = [url for url in requested if urlsplit(url).netloc not in (origin, "")]
    assert not foreign, f"the docs page asked other hosts: {foreign}"
    assert any(url.endswith("/api/v1/docs/static/swagger-ui-bundle.js") for url in requested)
