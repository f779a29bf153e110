"""docs/compliance.md names tests and code that exist (issue 8; every REQUIREMENTS.md item).

The compliance page maps each legal requirement to the code that implements it and the tests
that prove it. A test renamed or deleted later would leave the page claiming a proof that no
longer runs, so this suite reads the page and checks every name it lists against the source.
Names are found with ``ast``, never by importing, so a module that fails to import still gets
a precise message here rather than a crash.

The page's shape, which the checks rely on:

- one ``### <ID>. <title>`` heading per requirement (``### D1. ...``), ids unique;
- tests as pytest node ids in backticks: ``tests/test_x.py::test_name`` or
  ``tests/test_x.py::TestClass::test_name`` (no parametrisation brackets);
- code as list items starting with a path and the names defined there:
  ``- `whistle/core/deadlines.py` `acknowledge_due`, `feedback_due`: what they do``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "compliance.md"

SECTION = re.compile(r"^### (?P<id>[A-Z][0-9]+)\. \S")
TEST_REF = re.compile(r"`(?P<path>tests/[\w/]+\.py)::(?P<name>\w+(?:::\w+)?)`")
# Anything that looks like a test node id, however written: each must be a well-formed TEST_REF,
# so a reference with brackets or a typo in its shape is reported instead of silently skipped.
LOOSE_TEST_REF = re.compile(r"tests/[\w/.-]*\.py::[^\s`]*")
CODE_ITEM = re.compile(
    r"^\s*- `(?P<path>(?:whistle|crypto)/[\w/]+\.py)`(?P<names>(?:,? `\w+(?:\.\w+)?`)*)"
)
NAME = re.compile(r"`(\w+(?:\.\w+)?)`")
FILE_REF = re.compile(r"`(?P<path>(?:whistle|crypto|templates|tests|docs)/[\w/.-]+\.[a-z]+)`")


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    body: str


def sections(text: str) -> list[Section]:
    """The requirement items of the page, each with the text up to the next heading."""
    found: list[Section] = []
    current: tuple[str, str, list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            if current is not None:
                found.append(Section(current[0], current[1], "\n".join(current[2])))
                current = None
            match = SECTION.match(line)
            if match:
                current = (match["id"], line, [])
        elif current is not None:
            current[2].append(line)
    if current is not None:
        found.append(Section(current[0], current[1], "\n".join(current[2])))
    return found


def listed_tests(text: str) -> list[tuple[str, str]]:
    """Every (test file, test name) the text lists, in order."""
    return [(m["path"], m["name"]) for m in TEST_REF.finditer(text)]


def defined_tests(path: Path) -> set[str]:
    """The node-id tails pytest would collect from ``path``: ``test_x`` for a module-level
    function, ``TestX::test_y`` for a method of a test class."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith("test")
            )
    return found


def missing_tests(text: str, root: Path = ROOT) -> list[str]:
    """Each test reference of ``text`` whose file or function does not exist, as written."""
    missing: list[str] = []
    cache: dict[str, set[str] | None] = {}
    for path, name in listed_tests(text):
        if path not in cache:
            file = root / path
            cache[path] = defined_tests(file) if file.is_file() else None
        defined = cache[path]
        if defined is None:
            missing.append(f"{path}::{name} (no such file)")
        elif name not in defined:
            missing.append(f"{path}::{name} (no such test)")
    return missing


def malformed_test_refs(text: str) -> list[str]:
    """Test-like references that are not plain ``tests/...py::name`` node ids."""
    return [
        ref
        for ref in LOOSE_TEST_REF.findall(text)
        if not re.fullmatch(r"tests/[\w/]+\.py::\w+(?:::\w+)?", ref)
    ]


def defined_names(path: Path) -> set[str]:
    """Top-level functions, classes and assigned names of a module, and ``Class.method``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.add(node.name)
            found.update(
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
        elif isinstance(node, ast.Assign):
            found.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
    return found


def missing_code(text: str, root: Path = ROOT) -> list[str]:
    """Each ``module name`` pair of the code lists whose module or name does not exist."""
    missing: list[str] = []
    for line in text.splitlines():
        item = CODE_ITEM.match(line)
        if item is None:
            continue
        file = root / item["path"]
        if not file.is_file():
            missing.append(f"{item['path']} (no such file)")
            continue
        defined = defined_names(file)
        missing += [
            f"{item['path']} {name} (not defined there)"
            for name in NAME.findall(item["names"])
            if name not in defined
        ]
    return missing


def read_doc() -> str:
    assert DOC.is_file(), "docs/compliance.md is missing"
    return DOC.read_text(encoding="utf-8")


# --- the page as it is ---------------------------------------------------------------------------


def test_every_requirement_id_appears_once() -> None:
    items = sections(read_doc())
    assert len(items) >= 20, "the page lists too few requirement items: has its format changed?"
    ids = [item.id for item in items]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, f"requirement ids listed more than once: {', '.join(repeated)}"


def test_every_requirement_names_at_least_one_test() -> None:
    without = [item.heading for item in sections(read_doc()) if not listed_tests(item.body)]
    assert not without, "items without a test:\n" + "\n".join(without)


def test_every_listed_test_exists() -> None:
    text = read_doc()
    assert listed_tests(text), "the page lists no test at all: has its format changed?"
    malformed = malformed_test_refs(text)
    assert not malformed, "not plain pytest node ids:\n" + "\n".join(malformed)
    missing = missing_tests(text)
    assert not missing, "listed in docs/compliance.md but gone:\n" + "\n".join(missing)


def test_every_listed_code_name_exists() -> None:
    text = read_doc()
    missing = missing_code(text)
    assert not missing, "listed in docs/compliance.md but gone:\n" + "\n".join(missing)
    absent = sorted({m["path"] for m in FILE_REF.finditer(text) if not (ROOT / m["path"]).exists()})
    assert not absent, "files named in docs/compliance.md but gone:\n" + "\n".join(absent)


# --- the checks themselves ----------------------------------------------------------------------


def test_the_checks_name_a_renamed_test_and_a_renamed_function() -> None:
    """The checker must fail on the mistakes it is there to catch, each named."""
    page = (
        "### D1. A real item\n"
        "- `whistle/core/deadlines.py` `acknowledge_due`, `acknowledge_within`: one real, one "
        "not.\n"
        "- `tests/core/test_deadlines.py::test_acknowledgement_is_due_seven_days_after_receipt`\n"
        "- `tests/core/test_deadlines.py::test_acknowledgement_is_due_eight_days_after_receipt`\n"
        "- `tests/test_no_such_file.py::test_anything`\n"
        "- `tests/cases/test_cases.py::test_feedback_is_due_three_months_after_the_acknowledgement"
        "_across_month_ends[case0]`\n"
        "### D2. An item that proves nothing\n"
        "- `whistle/no_such_module.py` `anything`\n"
    )
    assert missing_tests(page) == [
        "tests/core/test_deadlines.py::test_acknowledgement_is_due_eight_days_after_receipt"
        " (no such test)",
        "tests/test_no_such_file.py::test_anything (no such file)",
    ]
    assert malformed_test_refs(page) == [
        "tests/cases/test_cases.py::test_feedback_is_due_three_months_after_the_acknowledgement"
        "_across_month_ends[case0]"
    ]
    assert missing_code(page) == [
        "whistle/core/deadlines.py acknowledge_within (not defined there)",
        "whistle/no_such_module.py (no such file)",
    ]
    assert [(s.id, bool(listed_tests(s.body))) for s in sections(page)] == [
        ("D1", True),
        ("D2", False),
    ]


def test_methods_of_test_classes_are_found(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_sample.py").write_text(
        "class TestThing:\n"
        "    def test_method(self) -> None: ...\n"
        "    def helper(self) -> None: ...\n"
        "async def test_async() -> None: ...\n"
        "def helper() -> None: ...\n",
        encoding="utf-8",
    )
    page = (
        "`tests/test_sample.py::TestThing::test_method` `tests/test_sample.py::test_async` "
        "`tests/test_sample.py::TestThing::helper` `tests/test_sample.py::helper`"
    )
    assert missing_tests(page, root=tmp_path) == [
        "tests/test_sample.py::TestThing::helper (no such test)",
        "tests/test_sample.py::helper (no such test)",
    ]
