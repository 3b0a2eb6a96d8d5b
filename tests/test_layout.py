"""The package layout stays what docs/architecture.md describes.

The layers and the absence of cycles are checked by ``lint-imports`` (pyproject.toml; every
package must be named in the layers contract, which is exhaustive).
"""

from __future__ import annotations

import re

from agent_service.core.config import REPO_ROOT

PACKAGE = REPO_ROOT / "agent_service"


def test_at_most_four_modules_at_the_package_root() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 4, modules


def test_migrations_import_no_live_service_code_but_the_models() -> None:
    """A migration does what it did when written, whatever the service becomes."""
    migrations = PACKAGE / "migrations"
    for path in [migrations / "env.py", *sorted((migrations / "versions").glob("*.py"))]:
        imports = re.findall(
            r"^\s*(?:from|import) (agent_service[\w.]*)", path.read_text("utf-8"), re.M
        )
        assert all(name.startswith("agent_service.db") for name in imports), (path.name, imports)
