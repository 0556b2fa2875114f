"""The core imports no task package, and each task owns its registries."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from counting_task import CountingTask

from vlkit.core.errors import VlkitError
from vlkit.core.registry import ModelEntry, Registry

CORE = Path(__file__).resolve().parents[2] / "src" / "vlkit" / "core"


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` of the file names (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_anything_of_vlkit_outside_the_core():
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 10
    for path in files:
        outside = {name for name in imported_modules(path)
                   if name.startswith("vlkit") and name != "vlkit" and not name.startswith("vlkit.core")}
        assert not outside, f"{path.name} imports {outside}"


def test_importing_every_core_module_loads_no_task_package():
    modules = ", ".join(f"vlkit.core.{path.stem}" for path in sorted(CORE.glob("*.py")) if path.stem != "__init__")
    code = (f"import importlib, sys\nfor m in '{modules}'.split(', '): importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.startswith('vlkit.') and not m.startswith('vlkit.core')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_tasks_have_their_own_model_namespaces():
    from vlkit.vqa.models import MODELS as VQA_MODELS

    assert "cnn_lstm_att" in VQA_MODELS.names() and "mlp" not in VQA_MODELS
    assert CountingTask.models.names() == ["mlp"]
    with pytest.raises(VlkitError, match="unknown counting model 'cnn_lstm_att'; registered: mlp"):
        CountingTask.models.get("cnn_lstm_att")


def test_a_name_registered_twice_is_refused():
    registry = Registry("test model")
    entry = ModelEntry("same", dict, dict, inputs=("x",))
    registry.add(entry)
    with pytest.raises(ValueError, match="'same' is registered twice"):
        registry.add(entry)
