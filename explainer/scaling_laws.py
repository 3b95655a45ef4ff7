"""Why it works, part one: scale. Models of several sizes trained on the same text for the same number of tokens, and
their validation loss against their size on log–log axes, where a power law L = (N_c / N)^α is a straight line.

Kaplan et al. (2020), "Scaling Laws for Neural Language Models" (arXiv:2001.08361), fit L(N) = (N_c / N)^α_N with
α_N ≈ 0.076 for models of 768 to 1.5 billion non-embedding weights, each trained to convergence on WebText2 (loss in
nats per BPE token). Ours differ on purpose and say so: a character-level model of Shakespeare's plays, tens of
thousands to a few hundred thousand weights, every size stopped after the same number of tokens (so the bigger ones are
further from convergence), one seed each. Like Kaplan we count N without the embedding and position tables.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass

import torch

from explainer.errors import ExplainerError
from explainer.files import read_json, write_json
from explainer.gpt.checkpoint import read_config
from explainer.gpt.model import GPTConfig
from explainer.gpt.train import TrainConfig, preset, train
from explainer.paths import DATA_DIR
from explainer.verdict import Verdict

SCALING_FILE = DATA_DIR / "precomputed" / "scaling.json"
REMAKE = "explainer precompute scaling"
KAPLAN_ALPHA_N = 0.076  # Kaplan et al. 2020, eq. 1.1: L(N) = (N_c / N)^α_N, N_c ≈ 8.8e13 non-embedding weights
KAPLAN = ("Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361: α_N ≈ 0.076 for 768 to "
          "1.5 billion non-embedding weights trained to convergence on WebText2")
SIZES = ((2, 2, 16), (2, 2, 32), (3, 3, 48), (4, 4, 64), (4, 4, 96))  # (layers, heads, width): 6k to 440k weights
STEPS = 400  # the same for every size: 400 batches of 12 windows of 64 characters, 307,200 tokens


@dataclass(frozen=True)
class Run:
    """One size, trained and scored on the whole validation text."""

    n_layer: int
    n_head: int
    n_embd: int
    parameters: int  # every weight
    non_embedding: int  # without the token and position tables (Kaplan's N)
    val_loss: float  # nats per character, on every character of the validation text
    seconds: float  # training time on the machine that made the file


@dataclass(frozen=True)
class PowerLaw:
    """L = (N_c / N)^α, fitted as a straight line through (log N, log L): log L = α log N_c − α log N."""

    exponent: float  # α
    constant: float  # N_c

    def loss(self, n: float) -> float:
        return (self.constant / n) ** self.exponent


def fit_power_law(sizes: list[float], losses: list[float]) -> PowerLaw:
    """Least squares on log–log axes (at least two sizes, all positive)."""
    if len(sizes) != len(losses) or len(sizes) < 2:
        raise ExplainerError(f"a power law needs at least two (size, loss) pairs of equal length; got {len(sizes)} sizes "
                             f"and {len(losses)} losses")
    if min(sizes) <= 0 or min(losses) <= 0:
        raise ExplainerError("sizes and losses must be positive to be drawn on log–log axes")
    x, y = torch.tensor(sizes, dtype=torch.float64).log(), torch.tensor(losses, dtype=torch.float64).log()
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    intercept = float(y.mean() - slope * x.mean())  # = α log N_c
    exponent = -slope
    return PowerLaw(exponent, math.exp(intercept / exponent) if exponent else math.inf)


def run_config(size: tuple[int, int, int], steps: int, corpus: str | None = None) -> TrainConfig:
    """nanoGPT's character-level CPU recipe for one size: the same text, batches and steps for every size."""
    n_layer, n_head, n_embd = size
    return preset("baby", tokenizer="char", n_layer=n_layer, n_head=n_head, n_embd=n_embd, max_iters=steps,
                  warmup_iters=min(100, steps // 10), eval_interval=steps, eval_iters=4, snapshots=0,
                  save_optimizer=False, corpus=corpus)


def train_sizes(sizes=SIZES, steps: int = STEPS, corpus: str | None = None, progress: bool = True) -> list[Run]:
    """Train each size for `steps` steps (explainer.gpt.train) and score it on the whole validation text."""
    runs = []
    for size in sizes:
        config = run_config(size, steps, corpus)
        with tempfile.TemporaryDirectory() as folder:
            result = train(config, folder, progress=progress)
            record = read_config(folder)
        model, evaluation = record["model"], record["evaluation"]
        embedding = model["vocab_size"] * model["n_embd"] + model["block_size"] * model["n_embd"]
        total = GPTConfig.from_dict(model).parameter_count()
        runs.append(Run(config.n_layer, config.n_head, config.n_embd, total, total - embedding,
                        evaluation["val_loss_per_char"], round(result.seconds, 1)))
    return runs


def write_scaling(steps: int = STEPS) -> str:
    """Train SIZES and write SCALING_FILE (what `explainer precompute scaling` runs; about 20 minutes on 2 busy cores)."""
    runs = train_sizes(steps=steps)
    config = run_config(SIZES[0], steps)
    law = fit_power_law([r.non_embedding for r in runs], [r.val_loss for r in runs])
    write_json(SCALING_FILE, {
        "made_by": REMAKE, "steps": steps, "tokens": steps * config.batch_size * config.block_size,
        "recipe": {k: v for k, v in asdict(config).items() if k not in ("n_layer", "n_head", "n_embd", "vocab_size")},
        "runs": [asdict(r) for r in runs], "fit": asdict(law),
        "published": {"alpha_N": KAPLAN_ALPHA_N, "source": KAPLAN}})
    return str(SCALING_FILE)


@dataclass(frozen=True)
class Scaling:
    runs: list[Run]
    law: PowerLaw
    tokens: int  # every size saw this many training tokens
    steps: int


def shipped_scaling() -> Scaling:
    found = read_json(SCALING_FILE, REMAKE)
    return Scaling([Run(**r) for r in found["runs"]], PowerLaw(**found["fit"]), found["tokens"], found["steps"])


STRAIGHT = 0.05  # "a straight line": every size within 5 % of the fitted power law


def scaling_verdict(found: Scaling) -> Verdict:
    """Does loss fall as a power of size here, and how does its exponent compare with Kaplan's?"""
    off = max(abs(r.val_loss / found.law.loss(r.non_embedding) - 1) for r in found.runs)
    smallest, largest = found.runs[0], found.runs[-1]
    falls = all(b.val_loss < a.val_loss for a, b in zip(found.runs, found.runs[1:]))
    holds = falls and off <= STRAIGHT
    text = (f"From {smallest.non_embedding:,} to {largest.non_embedding:,} non-embedding weights "
            f"({largest.non_embedding / smallest.non_embedding:.0f}× more), each trained on the same {found.tokens:,} "
            f"characters, validation loss goes from {smallest.val_loss:.3f} to {largest.val_loss:.3f} nats per character. "
            f"The fitted power law has exponent **α = {found.law.exponent:.3f}** (Kaplan et al.: {KAPLAN_ALPHA_N}); every "
            f"size lies within {off:.1%} of it (threshold {STRAIGHT:.0%}). ")
    if holds:
        text += "So here too, loss falls as a power of size: a straight line on log–log axes."
    elif not falls:
        text += "Loss does not fall with every step up in size here, so this is not a power law."
    else:
        text += "Loss falls with size, but not along one straight line on log–log axes."
    return Verdict(holds, "loss falls as a power of model size", text)
