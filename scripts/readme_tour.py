"""Run the examples of a Markdown file top to bottom, as a reader would: the README's tour.

    python scripts/readme_tour.py                  # README.md
    python scripts/readme_tour.py docs/value.md    # any other page (several may be given)
    python scripts/readme_tour.py --keep README.md # keep the working folder to look around

Every fenced block of a page names its language, and the language says what happens to it:

* ``bash`` (or ``sh``): the block runs as one ``bash -euo pipefail`` script, so a failing line
  fails the block. Anything it leaves running in the background (``omotenashi serve &``) is
  stopped when the block ends.
* ``console``: lines starting with ``$ `` are commands (a line ending in ``\\`` continues on
  the next), the lines after a command up to the next one are what it prints. Each command must
  exit with 0 and print that text; ``...`` on a line of its own stands for any number of lines,
  ``...`` inside a line for any text. Lines are compared without their table borders and with
  runs of spaces as one, so a table's figures must match but not its column widths.
* ``python``: the page's Python blocks run in order in one interpreter (names defined in one
  block are there in the next), with tracebacks pointing at the page's own lines.
* ``text``: not run (diagrams, command synopses with ``[options]``).
* any language with ``file=PATH`` after it (```` ```python file=my_package.py ````): the block is
  the text of that file, written into the working folder for the blocks after it to use.

A block that genuinely cannot run in a test (``pip install`` from the network, the test suite
itself) is preceded by an HTML comment ``<!-- tour: skip (the reason) -->``; the reason is
required. A block without a language, or with another one, is an error: the page must say.

The examples run in a new temporary folder laid out like a checkout of this repository: the
repository's ``examples/`` and ``src/`` are linked into it (read only, for the data files the
pages name) and ``../shared`` points at the datasets beside the repository, so paths written
relative to the repository root work as printed. The store is the default ``./omotenashi.db``
of that folder. Two things differ from a reader's terminal, both so that a test can tell
success from failure: ``curl`` fails on an HTTP error status (``--fail-with-body``), and port
8000 (``--port 8000``, ``localhost:8000``) is replaced by a free port.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "console": "console", "python": "python"}
PLAIN_LANGUAGES = {"text"}
LINKED = ("examples", "src")  # read-only data the pages name, relative to the repository root
SKIP = re.compile(r"<!--\s*tour:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
DIRECTIVE = re.compile(r"<!--\s*tour:")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^`\s]*)(?:\s+file=(?P<file>[\w./-]+))?\s*$")
BLOCK_TIMEOUT_S = 300
WIDTH = "80"


class TourError(Exception):
    """A page that cannot be read, or an example that failed; the message names file and line."""


@dataclass
class Block:
    path: str  # as shown in messages (relative to the repository root)
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None = None  # the reason, for a block marked `tour: skip (...)`
    file: str | None = None  # ```python file=PATH: the block is that file's text, written there

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.skip is None and (self.lang in RUN_LANGUAGES or self.file is not None)


@dataclass
class Outcome:
    path: str
    ran: list[Block] = field(default_factory=list)
    skipped: list[Block] = field(default_factory=list)
    commands: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        reasons = "; ".join(f"{b.where}: {b.skip}" for b in self.skipped)
        kinds: dict[str, int] = {}
        for block in self.ran:
            kinds[block.lang] = kinds.get(block.lang, 0) + 1
        by_kind = ", ".join(f"{n} {lang}" for lang, n in sorted(kinds.items())) or "none"
        text = (
            f"{self.path}: {len(self.ran)} blocks run ({by_kind}; {self.commands} commands), "
            f"{len(self.skipped)} skipped, {self.seconds:.1f} s"
        )
        return text + (f" [skipped: {reasons}]" if reasons else "")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def parse(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with their language and skip marks, checked."""
    shown = _display(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending_skip: tuple[int, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence is None:
            if DIRECTIVE.search(line):
                skip = SKIP.search(line)
                if skip is None or not skip.group("reason").strip():
                    raise TourError(
                        f"{shown}:{i + 1}: a tour mark reads <!-- tour: skip (the reason) -->"
                    )
                pending_skip = (i + 1, skip.group("reason").strip())
            elif line.strip() and pending_skip is not None:
                raise TourError(
                    f"{shown}:{pending_skip[0]}: a skip mark must come right before a code block"
                )
            i += 1
            continue
        indent, lang = len(fence.group("indent")), fence.group("lang").lower()
        start = i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        if i == len(lines):
            raise TourError(f"{shown}:{start}: code block is never closed")
        i += 1
        if not lang:
            raise TourError(
                f"{shown}:{start}: code block without a language; name one of "
                f"{', '.join(sorted([*RUN_LANGUAGES, *PLAIN_LANGUAGES]))}"
            )
        if lang not in RUN_LANGUAGES and lang not in PLAIN_LANGUAGES:
            raise TourError(
                f"{shown}:{start}: code block language {lang!r} is not one the tour knows"
            )
        skip = pending_skip[1] if pending_skip else None
        pending_skip = None
        if skip is not None and lang in PLAIN_LANGUAGES:
            raise TourError(f"{shown}:{start}: a {lang} block is never run; remove its skip mark")
        name = fence.group("file")
        if name is not None and (name.startswith("/") or ".." in Path(name).parts):
            raise TourError(f"{shown}:{start}: file={name} must be a path inside the folder")
        code = "\n".join(body)
        blocks.append(Block(shown, start, RUN_LANGUAGES.get(lang, lang), code, skip, name))
    if pending_skip is not None:
        raise TourError(
            f"{shown}:{pending_skip[0]}: a skip mark must come right before a code block"
        )
    return blocks


# --- console blocks -------------------------------------------------------------------------


@dataclass
class Command:
    line: int  # 1-based line in the page
    text: str
    expected: list[str]


def console_commands(block: Block) -> list[Command]:
    """The `$ ` commands of a console block, each with the output the page shows for it."""
    commands: list[Command] = []
    lines = block.code.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if commands:
                commands[-1].expected.append(line)
            elif line.strip():
                raise TourError(
                    f"{block.path}:{block.line + 1 + i}: output before any `$ ` command"
                )
            i += 1
            continue
        first = i
        text = line[2:]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text + "\n" + lines[i]  # bash reads the backslash-newline
        commands.append(Command(block.line + 1 + first, text, []))
        i += 1
    if not commands:
        raise TourError(f"{block.where}: console block without a `$ ` command")
    return commands


BOX = re.compile(r"[\u2500-\u257f\s]+")  # box-drawing characters and spaces


def normalise(line: str) -> str:
    """A line as compared: table borders, alignment and column widths do not count."""
    return BOX.sub(" ", line).strip()


def output_pattern(expected: list[str]) -> re.Pattern[str]:
    """The regular expression an output must match: `...` is a wildcard (a line, or in a line)."""
    lines = [normalise(line) for line in expected]
    while lines and not lines[-1]:
        lines.pop()
    parts = []
    for line in lines:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(_line_pattern(line) + r"\n")
    return re.compile("".join(parts))


def _line_pattern(line: str) -> str:
    """`...` in a line: any text; with a space beside it, whole words (`a ... b` matches `a b`)."""
    pieces = re.split(r"( ?\.\.\. ?)", line)
    pattern = []
    for n, piece in enumerate(pieces):
        if n % 2 == 0:
            pattern.append(re.escape(piece))
            continue
        before, after = piece.startswith(" "), piece.endswith(" ")
        at_start, at_end = n == 1 and not pieces[0], n == len(pieces) - 2 and not pieces[-1]
        if before and after:
            pattern.append(r" (?:.*? )?")
        elif before:
            pattern.append(r"(?: .*)?" if at_end else r" .*?")
        elif after:
            pattern.append(r"(?:.* )?" if at_start else r".*? ")
        else:
            pattern.append(r".*?")
    return "".join(pattern)


def output_matches(expected: list[str], actual: str) -> bool:
    lines = [normalise(line) for line in actual.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    text = "".join(line + "\n" for line in lines)
    return output_pattern(expected).fullmatch(text) is not None


# --- running --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SHELL_PRELUDE = """\
curl() { command curl --fail-with-body --silent --show-error "$@" && echo; }
"""


class Runner:
    """Runs one page's blocks in one working folder, in order."""

    def __init__(self, workdir: Path, *, verbose: bool = False) -> None:
        self.workdir = workdir
        self.verbose = verbose
        self.port = free_port()
        bindir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
            "COLUMNS": WIDTH,
            "NO_COLOR": "1",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("OMOTENASHI_DB", "VIRTUAL_ENV_PROMPT"):
            self.env.pop(name, None)
        self.python: subprocess.Popen[str] | None = None
        self.started = time.monotonic()

    # shell -----------------------------------------------------------------------------------
    def _ports(self, text: str) -> str:
        text = text.replace("--port 8000", f"--port {self.port}")
        return text.replace("localhost:8000", f"localhost:{self.port}")

    def _shell(self, script: str, where: str) -> tuple[int, str, str]:
        # output goes to files, not pipes: a server left in the background keeps a pipe open
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", SHELL_PRELUDE + self._ports(script)],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                start_new_session=True,  # its own process group: background jobs stop with it
            )
            try:
                proc.wait(timeout=BLOCK_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                raise TourError(f"{where}: still running after {BLOCK_TIMEOUT_S} s") from exc
            finally:
                _stop_group(proc)
            out.seek(0)
            err.seek(0)
            return proc.returncode, out.read(), err.read()

    def bash(self, block: Block) -> int:
        code, out, err = self._shell(block.code, block.where)
        if self.verbose:
            sys.stdout.write(out)
        if code != 0:
            raise TourError(
                f"{block.where}: bash block exited with {code}\n--- script ---\n{block.code}\n"
                f"--- output ---\n{_tail(out)}\n--- errors ---\n{_tail(err)}"
            )
        return sum(1 for line in block.code.splitlines() if _is_command(line))

    def console(self, block: Block) -> int:
        commands = console_commands(block)
        for command in commands:
            code, out, err = self._shell(command.text, f"{block.path}:{command.line}")
            if self.verbose:
                sys.stdout.write(f"$ {command.text}\n{out}")
            if code != 0:
                raise TourError(
                    f"{block.path}:{command.line}: `{command.text}` exited with {code}\n"
                    f"--- output ---\n{_tail(out)}\n--- errors ---\n{_tail(err)}"
                )
            if not output_matches(command.expected, out):
                raise TourError(
                    f"{block.path}:{command.line}: `{command.text}` printed something else than "
                    f"the page shows\n--- the page ---\n"
                    + "\n".join(command.expected)
                    + f"\n--- printed ---\n{out}"
                )
        return len(commands)

    # python ----------------------------------------------------------------------------------
    def run_python(self, block: Block) -> int:
        if self.python is None:
            self.python = subprocess.Popen(
                [sys.executable, "-c", PYTHON_DRIVER],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self.python.stdin is not None and self.python.stdout is not None
        log = self.workdir / ".tour-python.out"
        request = {"path": block.path, "line": block.line, "code": block.code, "out": str(log)}
        self.python.stdin.write(json.dumps(request) + "\n")
        self.python.stdin.flush()
        ready, _, _ = select.select([self.python.stdout], [], [], BLOCK_TIMEOUT_S)
        if not ready:
            self.python.kill()
            self.python.wait()
            self.python = None
            raise TourError(f"{block.where}: still running after {BLOCK_TIMEOUT_S} s")
        answer = self.python.stdout.readline()
        printed = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if self.verbose:
            sys.stdout.write(printed)
        if not answer:
            raise TourError(f"{block.where}: the Python interpreter ended\n{_tail(printed)}")
        result = json.loads(answer)
        if not result["ok"]:
            raise TourError(
                f"{block.where}: python block failed\n{result['error']}--- printed ---\n"
                f"{_tail(printed)}"
            )
        return len(ast.parse(block.code).body)

    def close(self) -> None:
        if self.python is not None:
            if self.python.stdin is not None:
                self.python.stdin.close()
            try:
                self.python.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.python.kill()
                self.python.wait()
            self.python = None

    def run(self, blocks: list[Block], outcome: Outcome) -> None:
        for block in blocks:
            if block.skip is not None:
                outcome.skipped.append(block)
                continue
            if block.file is not None:
                target = self.workdir / block.file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code + "\n", encoding="utf-8")
            elif block.lang == "bash":
                outcome.commands += self.bash(block)
            elif block.lang == "console":
                outcome.commands += self.console(block)
            elif block.lang == "python":
                outcome.commands += self.run_python(block)
            else:
                continue
            outcome.ran.append(block)
            if self.verbose:
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                print(
                    f"--- {block.where} ({block.lang}) done at "
                    f"{time.monotonic() - self.started:.1f} s, shell CPU so far "
                    f"{usage.ru_utime + usage.ru_stime:.1f} s"
                )


PYTHON_DRIVER = textwrap.dedent(
    """
    import contextlib, json, sys, traceback
    namespace = {"__name__": "__main__"}
    requests, answers = sys.stdin, sys.stdout
    for line in requests:
        request = json.loads(line)
        source = "\\n" * request["line"] + request["code"]
        with open(request["out"], "w", encoding="utf-8") as out:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    exec(compile(source, request["path"], "exec"), namespace)
                    answer = {"ok": True}
                except BaseException:
                    answer = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\\n")
        answers.flush()
    """
)


def _is_command(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and not line.startswith((" ", "\t"))


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """Stop the block's process group (servers it started in the background) and wait."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def prepare(workdir: Path) -> Path:
    """A folder laid out like a checkout: `repo/` (examples/, src/ linked) beside `shared/`."""
    repo = workdir / "repo"
    repo.mkdir(parents=True)
    for name in LINKED:
        if (REPO / name).exists():
            (repo / name).symlink_to(REPO / name)
    shared = REPO.parent / "shared"
    if shared.exists():
        (workdir / "shared").symlink_to(shared.resolve())
    return repo


def run_page(path: Path, *, keep: bool = False, verbose: bool = False) -> Outcome:
    """Run every example of one page in a fresh folder; raises TourError at the first failure."""
    blocks = parse(path)
    outcome = Outcome(_display(path))
    start = time.monotonic()
    top = Path(tempfile.mkdtemp(prefix="omotenashi-tour-"))
    runner = Runner(prepare(top), verbose=verbose)
    try:
        runner.run(blocks, outcome)
    finally:
        runner.close()
        outcome.seconds = time.monotonic() - start
        if keep:
            print(f"working folder kept: {top / 'repo'}", file=sys.stderr)
        else:
            shutil.rmtree(top, ignore_errors=True)
    return outcome


def pages() -> Iterator[Path]:
    """README.md and every page of docs/."""
    yield REPO / "README.md"
    yield from sorted((REPO / "docs").glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="Markdown files (default README.md)")
    parser.add_argument("--all", action="store_true", help="README.md and every page of docs/")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="show what the examples print")
    args = parser.parse_args(argv)
    chosen = list(pages()) if args.all else (args.pages or [REPO / "README.md"])
    for page in chosen:
        try:
            outcome = run_page(page, keep=args.keep, verbose=args.verbose)
        except TourError as exc:
            print(f"FAILED {exc}", file=sys.stderr)
            return 1
        print(outcome.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
