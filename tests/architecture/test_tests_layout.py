"""The tests mirror the packages (issue 15): every test module sits in a folder named like the
whistle package it tests, or in one of the folders for what crosses packages (security/,
architecture/, crypto/, browser/); shared steps live in tests/steps/; no test module imports
another (what two test modules share is a step or a fixture); every test folder is a package,
so two test modules may share a name in different folders."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
CROSS_CUTTING = frozenset({"security", "architecture", "crypto", "browser", "steps"})


def whistle_packages(root: Path) -> frozenset[str]:
    """The packages of whistle/: the folders a test module may be named after."""
    return frozenset(p.name for p in (root / "whistle").iterdir() if (p / "__init__.py").is_file())


def misplaced(tests: Path, packages: frozenset[str]) -> list[str]:
    """Test modules at the top of tests/ or under a folder named like no package."""
    allowed = packages | CROSS_CUTTING
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        parts = path.relative_to(tests).parts
        if len(parts) == 1:
            found.append(f"{parts[0]} (at the top level; move it to the folder of its package)")
        elif parts[0] not in allowed:
            found.append(f"{'/'.join(parts)} ({parts[0]}/ is named like no whistle package)")
    return found


def folders_without_init(tests: Path) -> list[str]:
    """Folders holding test modules that are not packages (their basenames would clash)."""
    folders = {path.parent for path in tests.rglob("test_*.py")}
    folders |= {folder.parent for folder in folders if folder != tests}
    return sorted(
        str(folder.relative_to(tests.parent))
        for folder in folders
        if not (folder / "__init__.py").is_file()
    )


def _is_test_module(dotted: str, level: int, test_stems: frozenset[str]) -> bool:
    parts = dotted.split(".") if dotted else []
    if not any(part.startswith("test_") for part in parts):
        return False
    return level > 0 or parts[0] == "tests" or parts[-1] in test_stems


def imports_of_test_modules(tests: Path) -> list[str]:
    """Every import, in any Python file under tests/, of a test module."""
    test_stems = frozenset(path.stem for path in tests.rglob("test_*.py"))
    found = []
    for path in sorted(tests.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(tests.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
                level = 0
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                level = node.level
                imported = [module] + [
                    f"{module}.{alias.name}" if module else alias.name for alias in node.names
                ]
            else:
                continue
            for name in imported:
                if _is_test_module(name, level, test_stems):
                    found.append(f"{where}:{node.lineno} imports {'.' * level}{name}")
                    break
    return found


def test_every_test_module_sits_in_the_folder_of_a_package() -> None:
    assert misplaced(TESTS, whistle_packages(ROOT)) == []


def test_every_folder_of_test_modules_is_a_package() -> None:
    assert folders_without_init(TESTS) == []


def test_no_test_module_imports_another() -> None:
    assert imports_of_test_modules(TESTS) == []


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    (tmp_path / "whistle" / "cases").mkdir(parents=True)
    (tmp_path / "whistle" / "cases" / "__init__.py").write_text("")
    tests = tmp_path / "tests"
    (tests / "cases").mkdir(parents=True)
    (tests / "helpers").mkdir()
    (tests / "test_top.py").write_text("")
    (tests / "cases" / "__init__.py").write_text("")
    (tests / "cases" / "test_inbox.py").write_text(
        "import tests.cases.test_handling\n"
        "from tests.cases.test_handling import submit\n"
        "from tests.cases import test_handling\n"
        "from .test_handling import submit\n"
        "def helper():\n"
        "    from test_handling import submit\n"
        "from tests.steps.cases import submit\n"
    )
    (tests / "cases" / "test_handling.py").write_text("")
    (tests / "helpers" / "test_misc.py").write_text("")

    assert misplaced(tests, whistle_packages(tmp_path)) == [
        "helpers/test_misc.py (helpers/ is named like no whistle package)",
        "test_top.py (at the top level; move it to the folder of its package)",
    ]
    assert folders_without_init(tests) == ["tests", "tests/helpers"]
    assert imports_of_test_modules(tests) == [
        "tests/cases/test_inbox.py:1 imports tests.cases.test_handling",
        "tests/cases/test_inbox.py:2 imports tests.cases.test_handling",
        "tests/cases/test_inbox.py:3 imports tests.cases.test_handling",
        "tests/cases/test_inbox.py:4 imports .test_handling",
        "tests/cases/test_inbox.py:6 imports test_handling",
    ]
