"""Every example of README.md and docs/*.md runs, and prints what the page shows.

`scripts/readme_tour.py` reads a page's fenced blocks (bash, console, python; `text` is not run)
and runs them in order in a fresh folder laid out like a checkout (see its docstring). Here:

* every page marks every block (a language; a skip only with its reason);
* the README's tour runs top to bottom through the script, as a reader would run it;
* every page of docs/ with examples runs them;
* the runner itself fails on a command that fails, on output that drifted from the page, on a
  Python error (naming the page's line), and on unmarked blocks, so a passing run means something.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "readme_tour.py"


def _load_tour():
    spec = importlib.util.spec_from_file_location("readme_tour", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_tour"] = module
    spec.loader.exec_module(module)
    return module


tour = _load_tour()
PAGES = list(tour.pages())


def _has_examples(page: Path) -> bool:
    try:
        return any(block.runs for block in tour.parse(page))
    except tour.TourError:
        return True  # run it, so that the failure is reported by the test of that page


DOC_PAGES_WITH_EXAMPLES = [page for page in PAGES[1:] if _has_examples(page)]
# a `text` block showing a command must read as a synopsis: options in brackets, `|`, `...`, or
# an UPPER-CASE placeholder; a command without them is an example and must run
SYNOPSIS = re.compile(r"\[|\||\.\.|\b[A-Z][A-Z_]+\b")
COMMAND = re.compile(r"^\s*(\$ )?(omotenashi|curl|python3?|pytest|pip)\b")


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent(text), encoding="utf-8")
    return page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_block_is_marked(page: Path) -> None:
    blocks = tour.parse(page)  # raises TourError naming the line of an unmarked block
    for block in blocks:
        if block.lang != "text":
            continue
        commands: list[tuple[int, str]] = []  # a command with its indented continuation lines
        for n, line in enumerate(block.code.splitlines(), start=block.line + 1):
            if COMMAND.match(line) and not line.startswith((" ", "\t")):
                commands.append((n, line))
            elif commands and line.startswith((" ", "\t")):
                commands[-1] = (commands[-1][0], commands[-1][1] + "\n" + line)
        for n, command in commands:
            if not SYNOPSIS.search(command):
                pytest.fail(f"{block.path}:{n}: a command in a text block is never run: {command}")


def test_readme_tour_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "README.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-6000:] + done.stdout[-2000:]
    assert re.search(r"README\.md: \d+ blocks run", done.stdout), done.stdout


def test_the_readme_tour_covers_the_readme() -> None:
    blocks = tour.parse(REPO / "README.md")
    skipped = [block for block in blocks if block.skip]
    assert len(skipped) <= 2, [block.where for block in skipped]  # installing, the test suite
    assert sum(block.runs for block in blocks) >= 8


@pytest.mark.parametrize("page", DOC_PAGES_WITH_EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_page_examples_run(page: Path) -> None:
    outcome = tour.run_page(page)
    assert outcome.ran, f"{page}: no example ran"


# --- the runner catches what it must -------------------------------------------------------


def test_output_that_drifted_fails(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        ```console
        $ printf 'events 10\\ncustomers 3\\n'
        events 10
        customers 4
        ```
        """,
    )
    with pytest.raises(tour.TourError, match=r"page\.md:3: .*printed something else"):
        tour.run_page(page)


def test_shown_output_with_ellipsis_matches(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        ```console
        $ printf 'head\\nevents 10 (in 0.8 s)\\nmiddle\\nmore\\ncustomers 3\\n'
        ...
        events 10 (in ... s)
        ...
        customers 3
        ```
        """,
    )
    assert tour.run_page(page).commands == 1


def test_tables_compare_by_their_figures_not_their_widths(tmp_path: Path) -> None:
    shown = ["│ 1 │ 16029    │ 7              │ 19,898.31 │", "..."]
    printed = "┃ # ┃ customer ┃\n│ 1 │    16029 │   7 │  19,898.31 │\n└───┴───┘\n"
    assert tour.output_matches(["...", *shown], printed)
    assert not tour.output_matches(["...", "│ 1 │ 16029 │ 7 │ 19,898.30 │", "..."], printed)
    assert not tour.output_matches(["...", "│ 1 │ 16029 │ 19,898.31 │", "..."], printed)


def test_a_failing_line_fails_its_bash_block(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        ```bash
        false
        echo never
        ```
        """,
    )
    with pytest.raises(tour.TourError, match=r"page\.md:2: bash block exited with 1"):
        tour.run_page(page)


def test_curl_fails_on_an_http_error(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        ```bash
        curl localhost:8000/nothing-listens-here
        ```
        """,
    )
    with pytest.raises(tour.TourError, match="bash block exited"):
        tour.run_page(page)


def test_python_errors_name_the_line_of_the_page(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        ```python
        x = 1
        ```

        ```python
        y = x + 1
        assert y == 3, "drifted"
        ```
        """,
    )
    with pytest.raises(tour.TourError) as caught:
        tour.run_page(page)
    assert f'File "{page}", line 8' in str(caught.value)
    assert "AssertionError: drifted" in str(caught.value)


def test_blocks_run_in_a_fresh_checkout_like_folder(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """
        ```bash
        test ! -e omotenashi.db
        test -f examples/sales.csv
        test -d ../shared/datasets
        touch left-behind
        ```
        """,
    )
    tour.run_page(page)
    assert not (REPO / "left-behind").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```\nomotenashi stats\n```\n", "without a language"),
        ("```ruby\nputs 1\n```\n", "language 'ruby'"),
        ("<!-- tour: skip -->\n```bash\nls\n```\n", "tour: skip \\(the reason\\)"),
        ("<!-- tour: skip (why) -->\n\nsome text\n\n```bash\nls\n```\n", "right before"),
        ("```bash\nls\n", "never closed"),
    ],
)
def test_unmarked_blocks_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(tour.TourError, match=message):
        tour.parse(_page(tmp_path, text))
