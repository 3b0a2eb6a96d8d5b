"""The console loads nothing from another host: every reference in its page, script and style
files is a path on this service, and the page's Content-Security-Policy allows only 'self'.
No browser needed: runs wherever the service does."""

from __future__ import annotations

import re

import httpx

from tests.reliability.harness import LiveServer

# Anything that names a host: a scheme with //, or a protocol-relative //host.
HOST = re.compile(r"""(?:[a-z][a-z0-9+.-]*:)?//[^\s'"`)]+""", re.IGNORECASE)
REFERENCE = re.compile(r'(?:src|href)="([^"]+)"|from\s+"([^"]+)"|import\s+"([^"]+)"')
CSS_URL = re.compile(r"url\(([^)]+)\)")


def test_console_pages_and_assets_reference_no_other_host(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        page = http.get("/console")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy
        assert not HOST.search(policy)
        seen: dict[str, str] = {}
        todo = ["/console"]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            response = http.get(path)
            assert response.status_code == 200, path
            seen[path] = response.text
            hosts = HOST.findall(response.text)
            assert hosts == [], f"{path} names another host: {hosts}"
            pattern = CSS_URL if path.endswith(".css") else REFERENCE
            for found in pattern.findall(response.text):
                groups = found if isinstance(found, tuple) else (found,)
                ref = next(g for g in groups if g).strip("'\" ")
                if ref.startswith("#") or ref.startswith(("data:", "blob:")):
                    continue
                if ref.startswith("./"):
                    ref = path.rsplit("/", 1)[0] + ref[1:]
                assert ref.startswith("/console/"), f"{path} references {ref}"
                todo.append(ref)
    assets = set(seen) - {"/console"}
    assert "/console/static/console.css" in assets
    assert "/console/static/js/app.js" in assets
    assert "/console/static/js/conversations.js" in assets  # reached through app.js's imports
