"""Every notebook is stored without outputs and runs top to bottom with models we did not make. (With the shipped
model every notebook runs in JupyterLab in Chromium, tests/test_browser.py: Run All, no error or stderr output, every
control moved; running it here too would only repeat that.)"""

import os
import shutil
import string
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from explainer.gpt import data
from explainer.paths import NOTEBOOKS_DIR
from models import char_meta, nanogpt_state, save_hf, save_nanogpt, sentencepiece_tokenizer

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

pytestmark = pytest.mark.slow


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    assert not [c for c in notebook.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert any("parameters" in c.metadata.get("tags", []) for c in notebook.cells), "tag one cell `parameters`"


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


@pytest.mark.parametrize("torch_first, threads", [(True, None), (False, None), (True, "2")])
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


# ---------- every notebook with models we did not make ----------

def nanogpt_char(folder: Path, bias: bool) -> Path:
    """nanoGPT's shakespeare_char layout: a character vocabulary with meta.pkl beside ckpt.pt, context 64. Its alphabet
    is tiny Shakespeare's, which nanoGPT trains on: our plays have characters it lacks (digits, dashes, brackets)."""
    chars = sorted("\n !$&',-.3:;?" + string.ascii_letters)  # the 65 that nanoGPT's data/shakespeare_char/prepare.py finds
    args = dict(n_layer=2, n_head=2, n_embd=32, block_size=64, bias=bias, vocab_size=len(chars), dropout=0.0)
    folder.mkdir(parents=True)
    char_meta(folder, chars)
    return save_nanogpt(folder / "ckpt.pt", args, nanogpt_state(args))


def nanogpt_bpe_padded(folder: Path, bpe) -> Path:
    """nanoGPT's GPT-2 layout with biases: a BPE vocabulary padded to a multiple of 64 (nanoGPT pads 50,257 to 50,304);
    the tokenizer is passed as a folder beside it, so the test gives the notebooks a folder holding both."""
    padded = (bpe.vocab_size + 63) // 64 * 64
    args = dict(n_layer=2, n_head=2, n_embd=32, block_size=96, bias=True, vocab_size=padded, dropout=0.0)
    folder.mkdir(parents=True)
    bpe.tokenizer.save(str(folder / "tokenizer.json"))
    return save_nanogpt(folder / "ckpt.pt", args, nanogpt_state(args))


@pytest.fixture(scope="module")
def foreign_models(tmp_path_factory, shakespeare_bpe) -> dict[str, Path]:
    """Models we did not make, each in the layout its maker writes (tiny, so that every notebook runs quickly)."""
    root = tmp_path_factory.mktemp("foreign")
    return {"nanogpt-char-no-bias": nanogpt_char(root / "char", bias=False),
            "nanogpt-bpe-padded": nanogpt_bpe_padded(root / "bpe", shakespeare_bpe),
            "llama": save_hf(root / "llama", "llama", sentencepiece_tokenizer()),
            "qwen2": save_hf(root / "qwen2", "qwen2", shakespeare_bpe.tokenizer)}


MODEL_NOTEBOOKS = [p for p in NOTEBOOKS if "MODEL = None" in p.read_text()]


def run_in_one_kernel(paths: list[Path], model: Path, workdir: Path) -> dict[str, nbformat.NotebookNode | Exception]:
    """Each notebook with MODEL set to `model`, all in one kernel (reset between notebooks) to save its start-up."""
    from jupyter_client.manager import KernelManager

    shutil.copytree(NOTEBOOKS_DIR, workdir, ignore=shutil.ignore_patterns("videos", ".ipynb_checkpoints"))
    kernel, results = KernelManager(kernel_name="python3"), {}
    kernel.start_kernel(cwd=str(workdir))
    try:
        for path in paths:
            notebook = nbformat.read(workdir / path.name, as_version=4)
            at = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
            notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(f"MODEL = {str(model)!r}"))
            notebook.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
            try:
                NotebookClient(notebook, km=kernel, timeout=600, resources={"metadata": {"path": str(workdir)}}).execute(
                    cleanup_kc=False)
                results[path.name] = notebook
            except Exception as error:  # its test reports it
                results[path.name] = error
    finally:
        kernel.shutdown_kernel(now=True)
    return results


@pytest.fixture(scope="module")
def foreign_runs(foreign_models, tmp_path_factory) -> dict[str, dict]:
    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        runs = pool.map(lambda item: run_in_one_kernel(MODEL_NOTEBOOKS, item[1], tmp_path_factory.mktemp(item[0]) / "nb"),
                        foreign_models.items())
        return dict(zip(foreign_models, runs))


@pytest.mark.parametrize("family", ["nanogpt-char-no-bias", "nanogpt-bpe-padded", "llama", "qwen2"])
def test_every_notebook_runs_with_a_model_we_did_not_make(family, foreign_runs):
    """No error and nothing on stderr (a pink box for the learner); the model is named; a prompt longer than the
    context is cut with a note in the output, not a warning."""
    failures = []
    for name, notebook in foreign_runs[family].items():
        if isinstance(notebook, Exception):
            failures.append(f"{name}: {str(notebook).strip().splitlines()[-1][:300]}")
            continue
        outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
        errors = [o for o in outputs if o.output_type == "error"]
        stderr = [o.text[:200] for o in outputs if o.output_type == "stream" and o.name == "stderr"]
        if errors or stderr:
            failures.append(f"{name}: {errors[:1] or stderr[:1]}")
    assert not failures, "\n".join(failures)
