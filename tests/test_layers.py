"""Dependencies run one way: settings/errors -> fetch, store -> feeds, extract -> nlp -> ingest -> search -> tasks/cli.

Every import in pipeline/, plugins/ and dags/ is read from the source, including imports inside
functions (most heavy imports are deferred there), so an upward import fails here rather than as a
circle at run time. Enrichment sits just above extraction: it takes extraction's one language
decision (``extract.language``), and extraction never looks at enrichment. ``ops`` (local Elasticsearch, replay wire, evaluation helpers) is development
tooling: only the command line may import it, never a production path.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A package may import its own modules and those of strictly lower layers.
LAYERS = {
    "pipeline": 0,  # pipeline/__init__.py, settings.py, errors.py
    "fetch": 1, "store": 1,
    "feeds": 2, "extract": 2,
    "nlp": 3,
    "ingest": 4,
    "search": 5,
    "ops": 6,
    "tasks": 7, "cli": 7,
    "plugins": 8, "dags": 8,
}
MAY_IMPORT_OPS = {"ops", "cli"}


def layer_of(module: str) -> str:
    """The layer name of a dotted module path (``pipeline.store.bulk`` -> ``store``)."""
    parts = module.split(".")
    if parts[0] != "pipeline":
        return parts[0]
    if len(parts) == 1 or parts[1] in ("settings", "errors"):
        return "pipeline"
    return parts[1]


def module_name(path: Path) -> str:
    """The dotted name of a source file under the repository."""
    rel = path.relative_to(REPO).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    if parts[0] == "plugins":
        return "plugins." + ".".join(parts[1:])
    if parts[0] == "dags":
        return "dags." + ".".join(parts[1:])
    return ".".join(parts)


def pipeline_imports(path: Path) -> list[tuple[int, str]]:
    """Every ``pipeline`` module a file imports, anywhere in it, with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "pipeline"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "pipeline":  # from pipeline import store -> pipeline.store; PIPELINE_VERSION -> pipeline
                found += [(node.lineno, f"pipeline.{a.name}" if is_module(a.name) else "pipeline") for a in node.names]
            elif node.module.split(".")[0] == "pipeline":
                found.append((node.lineno, node.module))
    return found


def is_module(name: str) -> bool:
    """Whether ``pipeline.<name>`` is a module or package (not a name defined in pipeline/__init__.py)."""
    return (REPO / "pipeline" / f"{name}.py").exists() or (REPO / "pipeline" / name).is_dir()


def sources() -> list[Path]:
    """The production Python files: the library, the plugin and the DAGs."""
    return sorted(p for d in ("pipeline", "plugins", "dags") for p in (REPO / d).rglob("*.py"))


def problem(source: str, target: str) -> str | None:
    """Why module ``source`` may not import ``target``, or None when it may."""
    own, other = layer_of(source), layer_of(target)
    if other not in LAYERS:
        return f"{target} is in no known layer"
    if other == "ops" and own not in MAY_IMPORT_OPS:
        return f"{target}: ops is development-only"
    if other != own and LAYERS[other] >= LAYERS[own]:
        return f"{own} -> {other} points up or sideways"
    return None


def violations(path: Path) -> list[str]:
    """Imports in one file that point up, sideways or into ops."""
    source = module_name(path)
    found = ((line, target, problem(source, target)) for line, target in pipeline_imports(path))
    return [f"{path.relative_to(REPO)}:{line} imports {target}: {why}" for line, target, why in found if why]


def test_every_file_belongs_to_a_layer():
    assert [str(p) for p in sources() if layer_of(module_name(p)) not in LAYERS] == []


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_down(path):
    assert violations(path) == []


@pytest.mark.parametrize(("source", "target", "allowed"), [
    ("pipeline.ingest.process", "pipeline.tasks", False),
    ("pipeline.store.archive", "pipeline.fetch.page", False),
    ("pipeline.store.indices", "pipeline.store.runs", True),
    ("pipeline.feeds.poll", "pipeline.store.bulk", True),
    ("pipeline.tasks", "pipeline.ops.local_es", False),
    ("pipeline.cli.main", "pipeline.ops.local_es", True),
    ("pipeline.nlp.enrich", "pipeline.extract.language", True),
    ("pipeline.extract.article", "pipeline.nlp.enrich", False),
    ("pipeline.feeds.poll", "pipeline.extract.article", False),
    ("pipeline.fetch.page", "pipeline.store.archive", False),
    ("pipeline.search.query", "pipeline", True),
])
def test_the_rule_itself(source, target, allowed):
    assert (problem(source, target) is None) is allowed
