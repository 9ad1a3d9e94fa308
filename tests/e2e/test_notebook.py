"""The example notebook (examples/fraudlog-client.ipynb) runs top to bottom against an embedded server, in a real
Jupyter kernel (nbclient + ipykernel), and its committed copy carries no outputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from fraudlog.config import Settings
from fraudlog.domain.assignment import CHALLENGER
from fraudlog.lifecycle.roles import assign_role
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.engine import create_engine
from tests.support.api import served_api
from tests.support.models import SECRET, install_version

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "fraudlog-client.ipynb"
ROOT = NOTEBOOK.parents[1]


def test_the_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
def test_the_notebook_runs_against_a_server(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(sqlite_url)
    install_version(engine, model="logreg")
    challenger = install_version(engine, promote=False)
    assign_role(ModelRegistry(engine, SECRET), challenger, CHALLENGER)
    engine.dispose()
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with served_api(settings, background=True) as url:
        monkeypatch.setenv("FRAUDLOG_URL", url)
        monkeypatch.delenv("FRAUDLOG_API_KEY", raising=False)
        # The kernel imports the checkout's code, as the tests do.
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    text = "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.outputs)
    assert "sent 800 transactions" in text and "scored 800 of 800; backlog 0" in text, text
    # The embedded schedule may retire the challenger on evidence while the notebook runs (a CI run saw it).
    assert "v1   champion" in text and re.search(r"v2\s+(challenger|retired)", text), text
    assert text.count("nb-") >= 5, text
    images = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) == 1, "the quality plot is drawn"
    assert "buckets, " in text and " with an AUC" in text, text
