"""The house rules of the code's layout that import-linter cannot see (docs/development.md,
"Architecture"). import-linter (`make test` runs `lint-imports`) checks the direction of
imports; these check the rest:

- the commit rule: views and CLI commands never commit or roll back; domain code commits
  through whistle/core/db.unit_of_work, except the staged runs named here;
- one refusal exception: no other exception class takes a field and a message;
- every ciphertext context is built in whistle/core/contexts.py;
- CLI commands live in a package's cli.py and whistle/cli.py adds each one explicitly;
- no module over 450 lines except the ones named here, with the reason;
- templates sit in folders named like the packages.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
WHISTLE = ROOT / "whistle"

# The web session bookkeeping (a signed-in person's vault session) is the one place outside
# domain code that commits: it runs around every request, not as a page's unit of work.
MAY_COMMIT_OUTSIDE_DOMAIN = {"whistle/web/staff_session.py", "whistle/web/reporter_session.py"}

# The one mapping of refusals and storage failures to a page (whistle/web/forms.py) discards
# what the refused action left in the request's session, so the page shown next cannot read
# it. Units of work already roll back (whistle/core/db.unit_of_work); this covers a refusal
# raised before one began. It never commits.
MAY_DISCARD = {"whistle/web/forms.py"}

# Modules over 450 lines that are one subject each.
LONG_BUT_ONE_SUBJECT = {
    # The schema: every table, each a few lines; splitting it would scatter the one place a
    # reader checks what is stored (and what is encrypted).
    "whistle/core/models.py",
}

CRYPTO_CALLS_WITH_CONTEXT = {
    "encrypt_field",
    "decrypt_field",
    "derive_record_key",
    "encrypt_stream",
    "decrypt_stream",
    "decrypt_stream_to",
    "_record_key",
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(WHISTLE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def _is_view_or_cli(rel: str) -> bool:
    parts = rel.removesuffix(".py").split("/")
    return (
        parts[-1] in {"views", "cli", "forms"}
        or "views" in parts[:-1]
        or rel.startswith("whistle/web/")
    )


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _has_literal_string(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        return True
    if isinstance(node, ast.Tuple | ast.List):
        return any(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    return False


def test_views_and_commands_never_commit() -> None:
    """The commit rule: a domain function that is a whole unit of work commits
    (whistle/core/db.unit_of_work); views, forms, CLI commands and the web kit never do."""
    found = []
    for rel, tree in _modules():
        if not _is_view_or_cli(rel) or rel in MAY_COMMIT_OUTSIDE_DOMAIN:
            continue
        forbidden = {"commit"} if rel in MAY_DISCARD else {"commit", "rollback"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in forbidden:
                found.append(f"{rel}:{node.lineno}")
    assert found == []


# Domain modules that commit step by step, each step its own transaction, because the next
# step works outside the database and must not run inside an open transaction (or must see
# the previous step stored). Each commits directly; everything else uses unit_of_work.
STAGED_RUNS = {
    # The helpers themselves.
    "whistle/core/db.py",
    # The key store's own database (a file in the instance folder, or a PostgreSQL database of
    # its own): its connection, not the session.
    "whistle/core/keystore.py",
    # The file store's database backend: its own connections, never the session; a chunk per
    # transaction, then the flip to complete (whistle/core/db_storage.py).
    "whistle/core/db_storage.py",
    # Destroys queued keys one by one in the key store, committing each before the next.
    "whistle/core/shredding.py",
    # Sends the outbox a mail at a time: no transaction open while the SMTP server answers.
    "whistle/notify/sending.py",
    # The doctor's repairs: rows first, committed, then the files and keys they name.
    "whistle/maintenance/doctor_files.py",
    "whistle/maintenance/doctor_keys.py",
    # The retention run ends its read before VACUUM (which needs no transaction), and commits
    # the SQLite driver's own implicit transaction around the checkpoint.
    "whistle/retention/deletion.py",
    # A purge commits its rows through unit_of_work, then ends a failed key or file stage
    # (the next retention run finishes it).
    "whistle/retention/purge.py",
}

# Discards what a refused request wrote (nothing was sealed to keys that no longer match the
# pins) before the warning to the leads is written in a unit of work of its own.
MAY_DISCARD_BEFORE_A_UNIT = {"whistle/keys/warnings.py"}


def test_domain_code_commits_only_through_unit_of_work() -> None:
    """The other half of the commit rule: a domain unit of work commits through
    whistle/core/db.unit_of_work (or unit_of_work_with_files), never by calling commit or
    rollback itself, unless it is one of the staged runs named above."""
    found = []
    for rel, tree in _modules():
        if _is_view_or_cli(rel) or rel in STAGED_RUNS:
            continue
        forbidden = {"commit"} if rel in MAY_DISCARD_BEFORE_A_UNIT else {"commit", "rollback"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in forbidden:
                found.append(f"{rel}:{node.lineno}")
    assert found == []


# A receipt that fails its check names a reason code (which message to show), not a form field.
NOT_REFUSALS = {"whistle/reporting/receipts.py:InvalidReceipt"}


def test_one_refusal_exception() -> None:
    """Only whistle.core.refusals.Refused is raised with a field and a message."""
    found = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    names = [a.arg for a in item.args.args[1:]]
                    if len(names) >= 2 and names[-1] == "message":
                        found.append(f"{rel}:{node.name}")
    assert sorted(set(found) - NOT_REFUSALS) == ["whistle/core/refusals.py:Refused"]


def test_every_ciphertext_context_is_built_in_contexts_py() -> None:
    found = []
    for rel, tree in _modules():
        if rel == "whistle/core/contexts.py":
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            literal = [
                k
                for k in node.keywords
                if k.arg and "context" in k.arg and _has_literal_string(k.value)
            ]
            if _called_name(node) in CRYPTO_CALLS_WITH_CONTEXT:
                literal += [a for a in node.args if _has_literal_string(a)]
            if literal:
                found.append(f"{rel}:{node.lineno}")
    assert found == []


def _command_decorated(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                if name in {"command", "group"}:
                    names.append(node.name)
    return names


def test_commands_live_in_cli_modules_and_are_added_explicitly() -> None:
    outside = []
    for rel, tree in _modules():
        if rel.endswith("/cli.py") or rel == "whistle/cli.py":
            continue
        if _command_decorated(tree):
            outside.append(rel)
    assert outside == []
    main = ast.parse((WHISTLE / "cli.py").read_text(encoding="utf-8"))
    side_effect_imports = [
        node.lineno
        for node in main.body
        if isinstance(node, ast.Import) and any(a.name.endswith(".cli") for a in node.names)
    ]
    assert side_effect_imports == []
    added = {
        node.args[0].id
        for node in ast.walk(main)
        if isinstance(node, ast.Call)
        and _called_name(node) == "add_command"
        and node.args
        and isinstance(node.args[0], ast.Name)
    }
    imported_from_packages = {
        alias.asname or alias.name
        for node in main.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".cli")
        for alias in node.names
        if alias.name.endswith(("_cli", "_command"))
    }
    assert imported_from_packages, "whistle/cli.py adds no package's commands"
    assert imported_from_packages <= added


def test_modules_stay_short_unless_one_subject() -> None:
    long = {
        path.relative_to(ROOT).as_posix()
        for path in WHISTLE.rglob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > 450
    }
    assert long == LONG_BUT_ONE_SUBJECT


def test_template_folders_are_named_like_packages() -> None:
    packages = {p.name for p in WHISTLE.iterdir() if (p / "__init__.py").is_file()}
    folders = {p.name for p in (ROOT / "templates").iterdir() if p.is_dir()}
    assert folders <= packages


def test_the_map_names_every_package() -> None:
    """docs/development.md's map of the architecture has a line for every package, and no
    line for a package that is gone."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\| `whistle/(\w+)/` \|", text, flags=re.M))
    packages = {p.name for p in WHISTLE.iterdir() if (p / "__init__.py").is_file()}
    assert mapped == packages
