"""Knowledge written by another process is searched at once, and a re-import creates nothing.

Every party is a process of its own, as in production: `agent-service serve` (one or two, on
the same database and the same Chroma directory) and `agent-service kb import`. Searches go
through the running servers' HTTP API (`POST /v1/knowledge/search`, what the agent retrieves
for a message), with no restart in between. On PostgreSQL when AGENT_SERVICE_TEST_POSTGRES_URL
is set (the `data_dir` fixture then holds a database of its own), else on SQLite.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests import processes
from tests.conftest import ADMIN
from tests.processes import CLI, REPO, service_env

ROWS: list[dict[str, Any]] = [
    {
        "external_id": "faq-17",
        "question": "Can I bring my own pet iguana to the relaxation lounge?",
        "answer": "Iguanas are welcome in the lounge on Tuesdays, in a closed terrarium.",
        "language": "en",
        "tags": ["pets"],
    },
    {
        "question": "Do you sell gift cards shaped like a durian?",
        "answer": "Yes: durian-shaped gift cards, at reception in every branch.",
        "language": "en",
    },
]


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """`agent-service serve` as its own process; yields its URL."""
    with processes.serve(service_env(data_dir)) as served:
        yield served.url


def kb_import(data_dir: Path, source: Path) -> str:
    """`agent-service kb import` as its own process; its output."""
    done = subprocess.run(
        [*CLI, "kb", "import", str(source)],
        cwd=REPO,
        env=service_env(data_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def first_hit(url: str, question: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/v1/knowledge/search", json={"query": question, "k": 3}, headers=ADMIN, timeout=60
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results, f"nothing found for {question!r}"
    return dict(results[0])


def entries(url: str, text: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{url}/v1/knowledge/entries", params={"q": text}, headers=ADMIN, timeout=60
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_cli_import_is_searched_at_once_by_a_running_server_and_a_reimport_creates_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "faq.json"
    source.write_text(json.dumps(ROWS), "utf-8")
    with serve(data_dir) as url:
        # The server has its snapshot and its index loaded before the import.
        assert first_hit(url, ROWS[0]["question"])["question"] != ROWS[0]["question"]

        output = kb_import(data_dir, source)
        assert "2 created, 0 updated, 0 unchanged" in output, output
        for row in ROWS:
            hit = first_hit(url, row["question"])
            assert (hit["question"], hit["answer"]) == (row["question"], row["answer"])

        output = kb_import(data_dir, source)
        assert "0 created, 0 updated, 2 unchanged" in output, output
        assert len(entries(url, "iguana")) == 1 and len(entries(url, "durian")) == 1

        # One row changed (matched by its external_id, the other by question and language).
        changed = [
            {**ROWS[0], "answer": "Iguanas may visit the lounge on Fridays only, leashed."},
            ROWS[1],
        ]
        source.write_text(json.dumps(changed), "utf-8")
        output = kb_import(data_dir, source)
        assert "0 created, 1 updated, 1 unchanged" in output, output
        stored = entries(url, "iguana")
        assert [e["answer"] for e in stored] == [changed[0]["answer"]]
        assert stored[0]["external_id"] == "faq-17"
        assert first_hit(url, ROWS[0]["question"])["answer"] == changed[0]["answer"]


def test_two_servers_on_one_database_search_what_the_other_imported(data_dir: Path) -> None:
    with ExitStack() as stack:
        a = stack.enter_context(serve(data_dir))
        b = stack.enter_context(serve(data_dir))
        for url in (a, b):  # both have loaded their snapshot and index
            assert first_hit(url, ROWS[1]["question"])["question"] != ROWS[1]["question"]

        imported = httpx.post(
            f"{a}/v1/knowledge/import", json={"entries": ROWS}, headers=ADMIN, timeout=600
        )
        assert imported.status_code == 200, imported.text
        report = imported.json()
        assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
        for row in ROWS:
            assert first_hit(b, row["question"])["answer"] == row["answer"]

        again = httpx.post(
            f"{b}/v1/knowledge/import", json={"entries": ROWS}, headers=ADMIN, timeout=600
        ).json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
        assert again["ids"] == [] and again["errors"] == []

        changed = {**ROWS[1], "answer": "Durian gift cards are sold out until next season."}
        updated = httpx.post(
            f"{b}/v1/knowledge/import",
            json={"entries": [ROWS[0], changed]},
            headers=ADMIN,
            timeout=600,
        ).json()
        assert (updated["created"], updated["updated"], updated["unchanged"]) == (0, 1, 1)
        assert first_hit(a, ROWS[1]["question"])["answer"] == changed["answer"]
        assert len(entries(a, "durian")) == 1

        # Bad input: a second entry with a taken external_id, and repeated rows in one file.
        taken = httpx.post(
            f"{a}/v1/knowledge/entries",
            json={**ROWS[1], "question": "Another question", "external_id": "faq-17"},
            headers=ADMIN,
            timeout=60,
        )
        assert taken.status_code == 409 and "external_id" in taken.json()["detail"]
        repeated = httpx.post(
            f"{a}/v1/knowledge/import",
            json={"entries": [ROWS[0], {**ROWS[0], "answer": "x"}, ROWS[1], ROWS[1]]},
            headers=ADMIN,
            timeout=600,
        ).json()
        assert [(e["row"], e["error"].split(":")[0]) for e in repeated["errors"]] == [
            (2, "external_id"),
            (4, "question"),
        ]
        assert (repeated["created"], repeated["updated"], repeated["unchanged"]) == (0, 1, 1)
