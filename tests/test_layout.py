"""The apps' imports run one way, so each concern has one home and nothing low depends on something high.

accounts <- wabas <- flowsadmin <- audience <- exchange <- templates_app <- campaigns, and the sandbox (a
development stand-in for Meta) comes last: only the project's URL configuration mounts it. Views, URL
configurations, template tags and management commands are entry points and may import any app; every other
module (models, services, forms, tasks, framework-free helpers) imports only its own app and the ones below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["accounts", "wabas", "flowsadmin", "audience", "exchange", "templates_app", "campaigns"]
RANK = {app: rank for rank, app in enumerate(ORDER)} | {"sandbox": len(ORDER)}

# flowsadmin is also the Django project: its settings, URLs, WSGI entry and Celery app see every app.
PROJECT_MODULES = {"flowsadmin/settings.py", "flowsadmin/urls.py", "flowsadmin/wsgi.py"}
ENTRY_POINTS = ("views", "urls", "templatetags", "management")


def imported_apps(path: Path) -> set[str]:
    """The project apps a module imports, at the top or inside functions."""
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        apps.update(name.split(".")[0] for name in names if name.split(".")[0] in RANK)
    return apps


def is_entry_point(relative: Path) -> bool:
    parts = relative.with_suffix("").parts
    return str(relative) in PROJECT_MODULES or any(part in ENTRY_POINTS for part in parts[1:])


def app_modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for app in RANK
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_every_app_on_disk_has_a_place_in_the_order() -> None:
    """A new app must be given its rank, or the import check would never look at it."""
    on_disk = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert on_disk == set(RANK)


@pytest.mark.parametrize("relative", app_modules(), ids=str)
def test_no_module_imports_a_higher_app(relative: Path) -> None:
    app = relative.parts[0]
    higher = {
        other
        for other in imported_apps(ROOT / relative)
        if RANK[other] > RANK[app] and not is_entry_point(relative)
    }
    assert not higher, f"{relative} imports {sorted(higher)}, which sit above {app}"


@pytest.mark.parametrize("relative", app_modules(), ids=str)
def test_only_the_project_urls_mount_the_sandbox(relative: Path) -> None:
    if relative.parts[0] == "sandbox" or str(relative) == "flowsadmin/urls.py":
        return
    assert "sandbox" not in imported_apps(ROOT / relative)


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "services.py"
    module.write_text("def f():\n    from exchange.health import record\n")
    assert imported_apps(module) == {"exchange"}
    # A service of audience may not import exchange; its views may.
    assert not is_entry_point(Path("audience/services.py"))
    assert is_entry_point(Path("audience/views.py"))
    assert is_entry_point(Path("sandbox/management/commands/seed_demo.py"))
