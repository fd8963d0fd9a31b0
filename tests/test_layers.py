"""The layers: kg/ never imports the web layer, and only kg/settings.py reads the environment."""

from __future__ import annotations

import ast
from pathlib import Path

KG = Path(__file__).resolve().parent.parent / "kg"
WEB = ("flask", "werkzeug", "webapp", "waitress", "jinja2")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names.update(a.value.split(".")[0] for a in node.args if isinstance(a, ast.Constant))
    return names


def test_kg_never_imports_the_web_layer():
    offenders = {p.name: sorted(imports(p) & set(WEB)) for p in KG.rglob("*.py") if imports(p) & set(WEB)}
    assert not offenders, offenders


def test_only_settings_reads_the_environment():
    readers = []
    for path in KG.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        # copying the environment for a child process is fine; looking a value up is not
        if any(k in text for k in ("os.environ.get(", "os.environ[", "os.getenv(")) and path.name != "settings.py":
            readers.append(path.name)
    assert not readers, f"read settings through kg.settings.Settings, not the environment: {readers}"


def test_no_view_module_imports_the_webapp_package_itself():
    """The views take kg() from webapp.context; webapp/__init__ imports the views: no cycle."""
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "webapp"
    package_names = {"kg", "KG", "VENDOR_DIR", "create_app"}
    offenders = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                offenders += [f"{path.name}: from . import {a.name}" for a in node.names if a.name in package_names]
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "webapp":
                offenders.append(f"{path.name}: from webapp import …")
    assert offenders == []
