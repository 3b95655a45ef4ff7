"""Every notebook under notebooks/ runs top to bottom with its default parameters and is stored without outputs."""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from explainer.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

pytestmark = pytest.mark.slow


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    assert not [c for c in notebook.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert any("parameters" in c.metadata.get("tags", []) for c in notebook.cells), "tag one cell `parameters`"


def execute(path: Path, workdir: Path) -> nbformat.NotebookNode | Exception:
    """The notebook run top to bottom in a copy of notebooks/ (or what stopped it)."""
    shutil.copytree(NOTEBOOKS_DIR, workdir, ignore=shutil.ignore_patterns("videos", ".ipynb_checkpoints"))
    notebook = nbformat.read(workdir / path.name, as_version=4)
    try:
        NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    except Exception as error:  # its own test raises it
        return error
    return notebook


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory) -> dict[str, nbformat.NotebookNode | Exception]:
    """The notebooks this run's tests ask for, executed a few at a time: a kernel computes on one core."""
    wanted = [item.callspec.params["path"] for item in request.session.items if item.originalname == "test_notebook_executes"]
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        runs = pool.map(lambda path: execute(path, tmp_path_factory.mktemp(path.stem) / "notebooks"), wanted)
        return {path.name: result for path, result in zip(wanted, runs)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, executed):
    notebook = executed[path.name]
    if isinstance(notebook, Exception):
        raise notebook
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", ["01_softmax_and_temperature", "12_attention_in_a_trained_model"])
def test_notebook_runs_with_a_gpt2_model(name, random_gpt2, tmp_path):
    """MODEL pointing at a GPT-2 folder in Hugging Face's format: the notebook runs end to end on that model."""
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, workdir, ignore=shutil.ignore_patterns("videos", ".ipynb_checkpoints"))
    notebook = nbformat.read(workdir / f"{name}.ipynb", as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(f"MODEL = {str(random_gpt2)!r}"))
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("gpt2" in str(o.get("data", {}).get("text/markdown", "")) + str(o.get("text", "")) for o in outputs), \
        "the notebook says which model it shows"


@pytest.mark.parametrize("threads", [None, "2"])
@pytest.mark.parametrize("torch_first", [True, False])
def test_a_kernel_runs_torch_on_one_thread_unless_told_otherwise(threads, torch_first, monkeypatch):
    """The page draws on the kernel's cores: one thread, unless OMP_NUM_THREADS says otherwise, whether torch was
    loaded before explainer.figures or after."""
    if threads is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
    imports = ["import torch", "import explainer.figures"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "\n".join(imports if torch_first else imports[::-1]) + "\nprint(torch.get_num_threads())")])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert notebook.cells[0].outputs[0]["text"].split() == [threads or "1"]


def test_a_kernel_sends_plotlys_code_before_it_loads_torch():
    """The page evaluates plotly's code (about 1.5 s) while the kernel loads torch (about 2 s), not after it."""
    watch = ("import sys\n"
             "class Watch:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'torch' and 'code' not in seen:\n"
             "            carrier = sys.modules.get('explainer.figures.plotly_code')\n"
             "            seen['code'] = carrier is not None and carrier._plotly_code is not None\n"
             "seen = {}\n"
             "sys.meta_path.insert(0, Watch())\n"
             "from explainer import sampling\n"
             "print(seen['code'], 'torch' in sys.modules)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(watch)])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert notebook.cells[0].outputs[0]["text"].split() == ["True", "True"]
