"""The shell examples of README.md and docs/*.md, and what each one claims.

tests/docs/test_examples.py runs every example as a reader would; this module reads them out of
the markdown and checks their output. The convention (also in README.md, "Testing"):

- A ```sh or ```bash fence is an example that runs. Another fence whose lines start like a shell
  command (``curl``, ``agent-service``, ``python``...) is refused: mark it ```sh.
- An example that cannot run inside the test has a visible annotation as the last line before
  its fence, with the reason:
  ``<!-- docs-test: skip because the test starts the service itself -->``.
- An example is cut into statements as bash parses them (a function, a command continued with
  ``\\``, a quoted body over several lines). A comment line ``# => CLAIM`` after a statement
  claims its output: a JSON value (``{...}`` or ``[...]``, continued on the following ``#`` lines
  until its brackets close; text after it on the last line is a note) whose fields must be in
  the output with the values shown, or one line of text the output must equal (``204``; two
  spaces after it start a note). ``...`` (or ``…``) matches anything: as a value, as a member
  of an object or an array, or inside a string (``"ws_..."`` is any string that starts with
  ``ws_``). An object matches one with more keys; an array without ``...`` must have exactly
  the elements shown, in order; with ``...``, the elements shown in that order among others.
- Status codes: a ``curl`` either fails on an error status (``--fail-with-body`` or ``-f``; the
  shell runs with ``set -euo pipefail``, so the example stops there) or prints the status
  (``-w '%{http_code}'``) for a claim to check.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHELL_FENCES = {"sh", "bash", "shell", "console", "zsh"}
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(.*?)-->", re.S)
# The first word of a line that makes a fence of another kind look like a shell example.
SHELL_WORDS = re.compile(
    r"^\s*(\$ |curl |agent-service |\.venv/|python3? |pip |export |PYTHONPATH=|[A-Z_]+=\S+ \S)"
)
FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass
class Statement:
    text: str  # verbatim, as the reader types it
    line: int  # of its first line in the markdown file
    claim: str | None = None  # the text after "# =>", continuation lines joined


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence
    lang: str
    text: str
    skip_reason: str | None
    statements: list[Statement] = field(default_factory=list)


class DocsError(AssertionError):
    """An example the test cannot take as it is written."""


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path`` that is a shell example; fails on a shell-like block of
    another kind and on a skip annotation without a reason."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        lang = opening.group(1).lower()
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        body = lines[i + 1 : end]
        where = f"{path.name}:{i + 1}"
        if lang not in SHELL_FENCES:
            if lang in ("", "text") and any(SHELL_WORDS.match(line) for line in body):
                raise DocsError(f"{where}: a shell command in a ```{lang} fence: mark it ```sh")
            i = end + 1
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        skip_reason = None
        annotation = SKIP.search(previous)
        if annotation:
            skip_reason = annotation.group(1).strip()
            if not skip_reason.startswith("because") or len(skip_reason.split()) < 3:
                raise DocsError(
                    f"{where}: a skip needs its reason: <!-- docs-test: skip because ... -->"
                )
        block = Block(path, i + 1, lang, "\n".join(body) + "\n", skip_reason)
        if skip_reason is None:
            block.statements = statements(body, first_line=i + 2, where=where)
        found.append(block)
        i = end + 1
    return found


def complete(text: str) -> bool:
    """Whether bash reads ``text`` as whole commands (no open quote, brace or ``\\``)."""
    if text.rstrip().endswith("\\"):
        return False
    checked = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    # An open here-document is only a warning to bash -n.
    return checked.returncode == 0 and "here-document" not in checked.stderr


def statements(body: list[str], first_line: int, where: str) -> list[Statement]:
    """The block's statements in order, each with the claim written under it."""
    result: list[Statement] = []
    pending: list[str] = []
    start = first_line
    i = 0
    while i < len(body):
        line = body[i]
        if not pending and line.lstrip().startswith("# =>"):
            if not result or result[-1].claim is not None:
                raise DocsError(f"{where}: line {first_line + i}: a claim under no command")
            claim = [line.lstrip()[len("# =>") :].strip()]
            i += 1
            if claim[0][:1] in "{[":
                while not balanced(" ".join(claim)) and i < len(body):
                    following = body[i].lstrip()
                    if not following.startswith("#"):
                        raise DocsError(
                            f"{where}: line {first_line + i}: the claim's brackets do not close"
                        )
                    claim.append(following[1:].strip())
                    i += 1
            result[-1].claim = " ".join(claim)
            continue
        if not pending:
            start = first_line + i
        pending.append(line)
        i += 1
        text = "\n".join(pending) + "\n"
        if not text.strip() or all(p.lstrip().startswith("#") or not p.strip() for p in pending):
            pending = []  # a plain comment or a blank line: nothing to run
            continue
        if complete(text):
            result.append(Statement(text, start))
            pending = []
    if pending:
        raise DocsError(f"{where}: the block ends inside a command: {''.join(pending)[:80]}")
    return result


def balanced(text: str) -> bool:
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth <= 0


# --- claims ---------------------------------------------------------------------------------


class Anything:
    """``...`` in a claim."""

    def __repr__(self) -> str:
        return "..."


ANY = Anything()


class Glob(str):
    """A string of a claim with ``...`` in it: those parts match any text."""

    def matches(self, actual: str) -> bool:
        parts = re.split(r"\.\.\.|…", self)
        return re.fullmatch(".*".join(re.escape(p) for p in parts), actual, re.S) is not None


class _Parser:
    """JSON with ``...`` where a value, an object member or an array element may stand."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def parse(self) -> tuple[Any, str]:
        value = self.value()
        return value, self.text[self.pos :].strip()

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def ellipsis(self) -> bool:
        self.skip()
        for token in ("...", "…"):
            if self.text.startswith(token, self.pos):
                self.pos += len(token)
                return True
        return False

    def expect(self, char: str) -> None:
        self.skip()
        if not self.text.startswith(char, self.pos):
            raise ValueError(f"expected {char!r} at {self.text[self.pos : self.pos + 30]!r}")
        self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos : self.pos + 1]

    def value(self) -> Any:
        if self.ellipsis():
            return ANY
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        decoder = json.JSONDecoder()
        value, end = decoder.raw_decode(self.text, self.pos)
        self.pos = end
        if isinstance(value, str) and ("..." in value or "…" in value):
            return Glob(value)
        return value

    def object(self) -> dict[str, Any]:
        self.expect("{")
        members: dict[str, Any] = {}
        while self.peek() != "}":
            if not self.ellipsis():
                key = self.value()
                if not isinstance(key, str):
                    raise ValueError(f"an object key must be a string: {key!r}")
                self.expect(":")
                members[str(key)] = self.value()
            if self.peek() == ",":
                self.pos += 1
        self.expect("}")
        return members

    def array(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while self.peek() != "]":
            items.append(self.value())
            if self.peek() == ",":
                self.pos += 1
        self.expect("]")
        return items


def parse_claim(text: str) -> tuple[Any, str]:
    """The claimed value and the note after it."""
    return _Parser(text).parse()


def mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """Why ``actual`` does not match the claim ``expected``; None when it does."""
    if expected is ANY:
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r:.200}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}: no {key!r} in {sorted(actual)}"
            why = mismatch(value, actual[key], f"{where}.{key}")
            if why:
                return why
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected an array, got {actual!r:.200}"
        wanted = [item for item in expected if item is not ANY]
        if len(wanted) == len(expected):
            if len(actual) != len(expected):
                return f"{where}: {len(expected)} elements expected: {actual!r:.300}"
            for index, (item, got) in enumerate(zip(expected, actual, strict=True)):
                why = mismatch(item, got, f"{where}[{index}]")
                if why:
                    return why
            return None
        rest = iter(enumerate(actual))  # an ordered subsequence
        for item in wanted:
            if not any(mismatch(item, got) is None for _, got in rest):
                return f"{where}: no element matching {item!r} (in order) in {actual!r:.300}"
        return None
    if isinstance(expected, Glob):
        if isinstance(actual, str) and expected.matches(actual):
            return None
        return f"{where}: expected {str(expected)!r}, got {actual!r:.200}"
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return (
            None
            if expected == actual and type(expected) is type(actual)
            else (f"{where}: expected {expected!r}, got {actual!r:.200}")
        )
    if (
        isinstance(expected, int | float)
        and isinstance(actual, int | float)
        and not isinstance(actual, bool)
    ):
        return None if expected == actual else f"{where}: expected {expected!r}, got {actual!r}"
    return f"{where}: expected {expected!r}, got {actual!r:.200}"


def check_claim(claim: str, output: str) -> str | None:
    """Why ``output`` (a statement's stdout) does not bear out ``claim``; None when it does."""
    if claim[:1] in "{[":
        expected, _note = parse_claim(claim)
        text = output.strip()
        try:
            actual = json.loads(text)
        except json.JSONDecodeError:
            last = text.splitlines()[-1] if text else ""
            try:
                actual = json.loads(last)
            except json.JSONDecodeError:
                return f"the output is not JSON: {text[:300]!r}"
        return mismatch(expected, actual)
    expected = re.split(r"\s{2,}", claim.strip(), maxsplit=1)[0]  # two spaces, then a note
    if Glob(expected).matches(output.strip()):
        return None
    return f"expected {claim!r}, got {output.strip()[:300]!r}"


CURL = re.compile(r"(?<![\w-])curl\s")
CHECKED = re.compile(r"--fail-with-body|--fail\b|(?<![\w-])-[a-zA-Z]*f[a-zA-Z]*\b|%\{http_code\}")


def unchecked_curl(statement: str) -> bool:
    """A curl that neither fails on an error status nor prints it."""
    code = "\n".join(line.split(" #", 1)[0] for line in statement.splitlines())
    for call in CURL.split(code)[1:]:
        options = call.split("|", 1)[0]
        if not CHECKED.search(options):
            return True
    return False
