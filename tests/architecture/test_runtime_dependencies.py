"""The application imports only what its runtime install brings: every third-party module that
whistle/ or crypto/ imports (at the top of a module or inside a function) belongs to a
distribution of pyproject.toml's ``[project] dependencies`` or to one of their own
dependencies, never to one that only the ``dev`` extra installs (pytest, pypdf, ...). A server
installed without ``[dev]`` would otherwise fail the first time that code ran. pypdf is such a
development dependency: the tests read the PDFs they make with it; the app cleans PDFs with
pikepdf (whistle/casefile/metadata.py)."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
OWN = frozenset({"whistle", "crypto"})


def runtime_requirements(pyproject: Path) -> list[str]:
    return list(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])


def installed_closure(requirements: Iterable[str]) -> frozenset[str]:
    """The distributions that installing ``requirements`` brings, as installed here: each one
    and, through their metadata, what they require (with the extras asked for, never ``dev``)."""
    seen: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            below = requires(requirement.name) or []
        except PackageNotFoundError:
            continue
        extras = requirement.extras or {""}
        for line in below:
            dependency = Requirement(line)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(dependency)
    return frozenset(seen)


def third_party_imports(folders: Iterable[Path], root: Path) -> dict[str, list[str]]:
    """Top-level module name -> where it is imported, for every absolute import of a module
    that is neither the standard library's nor the project's own."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in OWN or top == "__future__" or top in sys.stdlib_module_names:
                        continue
                    where = f"{path.relative_to(root).as_posix()}:{node.lineno}"
                    found.setdefault(top, []).append(where)
    return found


def imports_outside_the_runtime(
    imports: Mapping[str, list[str]],
    providers: Mapping[str, list[str]],
    runtime: frozenset[str],
) -> list[str]:
    problems = []
    for module, places in sorted(imports.items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            problems.append(f"{module} ({places[0]}): no installed distribution provides it")
        elif not dists & runtime:
            problems.append(
                f"{module} ({places[0]}): from {', '.join(sorted(dists))}, not a runtime dependency"
            )
    return problems


def test_the_app_imports_only_runtime_dependencies() -> None:
    runtime = installed_closure(runtime_requirements(ROOT / "pyproject.toml"))
    imports = third_party_imports([ROOT / "whistle", ROOT / "crypto"], ROOT)
    assert imports_outside_the_runtime(imports, packages_distributions(), runtime) == []


def test_the_check_catches_a_development_dependency(tmp_path: Path) -> None:
    app = tmp_path / "whistle"
    app.mkdir()
    (app / "pdf.py").write_text(
        "import json\n"
        "from whistle.core import db\n"
        "from . import sibling\n"
        "def read():\n"
        "    from pypdf import PdfReader\n"
        "    import pikepdf.models\n"
        "    import nowhere_installed\n"
    )
    imports = third_party_imports([app], tmp_path)
    assert imports == {
        "pypdf": ["whistle/pdf.py:5"],
        "pikepdf": ["whistle/pdf.py:6"],
        "nowhere_installed": ["whistle/pdf.py:7"],
    }
    providers = {"pypdf": ["pypdf"], "pikepdf": ["pikepdf"]}
    assert imports_outside_the_runtime(imports, providers, frozenset({"pikepdf"})) == [
        "nowhere_installed (whistle/pdf.py:7): no installed distribution provides it",
        "pypdf (whistle/pdf.py:5): from pypdf, not a runtime dependency",
    ]
