"""Bring your own model, at full size: every notebook run with MODEL pointing at a random GPT-2-small-shaped model
(124 M weights, 12 layers × 12 heads × 768, context 1,024) and at a LLaMA-shaped model of similar size (RoPE, RMSNorm,
SwiGLU, grouped-query attention), both saved by `transformers` in a temporary folder.

    python benchmarks/byom.py [--notebook NAME ...] [--family gpt2|llama ...] [--moves 3] [--keep DIR]

Per notebook and model: Run All seconds in JupyterLab under Chromium, the kernel's peak memory, and the slowest
control's latency (p95 of --moves moves, from the input event to the last redraw). Targets (issue #34): Run All ≤ 60 s
and peak memory ≤ 4 GB on 2 cores with 24 GB; controls within the shipped model's targets. Ends with one JSON line.
"""

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import psutil

from explainer.gpt import data
from explainer.gpt.tokenizer import BPETokenizer
from explainer.paths import NOTEBOOKS_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the suite's JupyterLab driver
from lab import Lab, NotebookPage, chromium  # noqa: E402

VOCAB = 50_257


def tokenizer(folder: Path, vocab_size: int = VOCAB) -> int:
    """A byte-level BPE trained on the plays (as large as the text allows up to vocab_size), saved as tokenizer.json."""
    bpe = BPETokenizer.train(data.shakespeare_text(), vocab_size=vocab_size)
    bpe.tokenizer.save(str(folder / "tokenizer.json"))
    return bpe.vocab_size


def gpt2_small(folder: Path) -> Path:
    """GPT-2 small's shape, random weights, the model's vocabulary 50,257 (the tokenizer's may be smaller: padding)."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def llama_like(folder: Path) -> Path:
    """A LLaMA of about the same size: 12 layers × 12 query heads sharing 4 key/value heads, 768 wide, SwiGLU MLP of
    2,048, RoPE, RMSNorm, untied unembedding, context 1,024."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab = tokenizer(folder, 32_000)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=vocab, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                                      num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=1024,
                                      tie_word_embeddings=False)
    transformers.LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


BUILDERS = {"gpt2": gpt2_small, "llama": llama_like}


def notebooks_for(model: Path, out: Path, names: list[str]) -> Path:
    """Copies of the notebooks whose parameters cell is followed by MODEL = the given folder."""
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        notebook = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
        at = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
        notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(f"MODEL = {str(model)!r}"))
        nbformat.write(notebook, out / f"{name}.ipynb")
    shutil.copy(NOTEBOOKS_DIR / "GLOSSARY.md", out / "GLOSSARY.md")
    return out


class PeakMemory:
    """The largest resident memory of any kernel process of this server (sampled every 0.2 s)."""

    def __init__(self, server: psutil.Process):
        self.server, self.peak, self.running = server, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            try:
                kernels = [p for p in self.server.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
                self.peak = max([self.peak] + [p.memory_info().rss for p in kernels])
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notebook", action="append", help="only this notebook (name without .ipynb; repeatable)")
    parser.add_argument("--family", action="append", choices=list(BUILDERS))
    parser.add_argument("--moves", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the models here and keep them (reused if present)")
    args = parser.parse_args()
    names = args.notebook or sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        models = args.keep or Path(work) / "models"
        for family in args.family or list(BUILDERS):
            folder = models / family
            if not (folder / "config.json").is_file():
                started = time.perf_counter()
                BUILDERS[family](folder)
                print(f"{family}: built in {time.perf_counter() - started:.0f} s at {folder}")
            lab = Lab(Path(work) / family, notebooks=notebooks_for(folder, Path(work) / f"{family}-notebooks", names))
            try:
                with chromium() as context:
                    for name in names:
                        memory = PeakMemory(psutil.Process(lab.server.pid))
                        notebook = NotebookPage(context, lab, f"{name}.ipynb")
                        try:
                            seconds, problems = notebook.run_all(), notebook.problems()
                            slowest = max(([float(np.percentile([notebook.move(notebook.controls()[c.index])
                                                                for _ in range(args.moves)], 95)), c.label]
                                           for c in notebook.controls()), default=[0.0, ""])
                        except Exception as error:  # a notebook that fails is a row that says so
                            seconds, problems, slowest = float("nan"), [f"{type(error).__name__}: {error}"[:300]], [0.0, ""]
                        peak = memory.stop()
                        rows.append({"family": family, "notebook": name, "run_all_s": round(seconds, 1),
                                     "peak_gb": round(peak / 2**30, 2), "slowest_control_ms": round(slowest[0]),
                                     "slowest_control": slowest[1], "problems": problems})
                        print(f"{family:5s} {name:36s} Run All {seconds:5.1f} s  peak {peak / 2**30:5.2f} GB  slowest "
                              f"{slowest[1] or '-'} {slowest[0]:.0f} ms" + (f"  PROBLEMS: {problems}" if problems else ""))
                        notebook.close()
                        lab.shutdown_kernels()
            finally:
                lab.stop()
    over = [r for r in rows if not r["run_all_s"] <= 60 or r["peak_gb"] > 4 or r["problems"]]
    print(f"{len(over)} of {len(rows)} runs miss a target or have problems")
    print(json.dumps({"runs": len(rows), "missing_targets": len(over), "rows": rows}))


if __name__ == "__main__":
    main()
