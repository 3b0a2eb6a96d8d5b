"""/docs and /redoc work without the internet: every asset they reference is served by the
service itself, nothing points at another host, and the pages' Content-Security-Policy keeps
the browser from fetching anything elsewhere. Every operation has a summary of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.reliability.harness import LiveServer, live_server

URL_IN_TEXT = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+(?::\d+)?[^\s"'<>)]*""")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


class References(HTMLParser):
    """The URLs a page makes the browser load: scripts, styles, icons, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, given in attrs:
            if given and name in ("src", "href", "data", "srcset", "spec-url"):
                self.urls.append(given)


@pytest.fixture
def served(data_dir: Path) -> Iterator[LiveServer]:
    with live_server(data_dir) as server:
        yield server


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_and_their_assets_come_from_the_service(served: LiveServer, page: str) -> None:
    origin = urlsplit(served.url).netloc
    with httpx.Client(base_url=served.url, timeout=60) as http:
        response = http.get(page)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        # Only this host: no directive names another one.
        for directive in policy.split(";"):
            sources = directive.split()[1:]
            assert all(s.startswith("'") or s in ("data:", "blob:") for s in sources), policy
        assert "default-src 'self'" in policy
        html = response.text
        assert not [u for u in URL_IN_TEXT.findall(html) if urlsplit(u).netloc != origin], html
        parser = References()
        parser.feed(html)
        # The spec (quoted in an inline script) is fetched too.
        referenced = [*parser.urls, *re.findall(r"""['"](/openapi\.json)['"]""", html)]
        assert any(u.endswith(".js") for u in referenced), referenced
        assert "/openapi.json" in referenced
        for reference in referenced:
            target = urljoin(f"{served.url}{page}", reference)
            assert urlsplit(target).netloc == origin, reference
            asset = http.get(target)
            assert asset.status_code == 200, target
            if target.endswith(".css"):
                for inner in CSS_URL.findall(asset.text):
                    if inner.startswith("data:"):
                        continue
                    assert urlsplit(urljoin(target, inner)).netloc in ("", origin), inner
    if page == "/docs":
        # Swagger UI asks validator.swagger.io about the spec unless told not to.
        assert '"validatorUrl": null' in html


def test_every_operation_has_a_summary_of_its_own(served: LiveServer) -> None:
    spec = httpx.get(f"{served.url}/openapi.json", timeout=60).json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            summary = operation.get("summary", "")
            # FastAPI's fallback is the function's name in title case ("Get Team"): it says
            # nothing the path does not.
            fallback = summary.lower().replace(" ", "_")
            assert summary and not operation["operationId"].startswith(fallback), where
            assert len(summary.split()) >= 3, where
            checked += 1
    assert checked >= 60
