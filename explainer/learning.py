"""How a model learns: gradient descent, little steps downhill on a cost surface, first on a model with two weights
that can be drawn, then on our GPT, whose million-dimensional descent we watch through its saved snapshots."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explainer.errors import ExplainerError
from explainer.gpt import checkpoint

# The toy: y = w2 · tanh(w1 · x) fitted to points made by w1 = 1.2, w2 = 1.5 plus noise. Its cost surface has two
# valleys, (w1, w2) and (−w1, −w2), because flipping both signs gives the same curve, and a saddle between them.
TRUE_WEIGHTS = (1.2, 1.5)


@dataclass(frozen=True)
class Toy:
    x: torch.Tensor  # [points]
    y: torch.Tensor

    def cost(self, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
        """Mean squared error for weights of any (matching) shape."""
        prediction = w2[..., None] * torch.tanh(w1[..., None] * self.x)
        return ((prediction - self.y) ** 2).mean(-1)

    def cost_and_gradient(self, w1: float, w2: float) -> tuple[float, np.ndarray]:
        """The cost at (w1, w2) and its gradient (∂/∂w1, ∂/∂w2) by the chain rule: with t = tanh(w1·x) and the error
        r = w2·t − y, ∂/∂w1 = mean(2r · w2 · (1 − t²) · x) and ∂/∂w2 = mean(2r · t). (The tests check it against autograd.)"""
        x, y = self.x.numpy(), self.y.numpy()
        t = np.tanh(w1 * x)
        r = w2 * t - y
        return float(np.mean(r**2)), np.array([np.mean(2 * r * w2 * (1 - t**2) * x), np.mean(2 * r * t)])


def toy(points: int = 24, noise: float = 0.1, seed: int = 0) -> Toy:
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-2, 2, points, dtype=torch.float64)
    y = TRUE_WEIGHTS[1] * torch.tanh(TRUE_WEIGHTS[0] * x) + noise * torch.randn(points, generator=generator, dtype=torch.float64)
    return Toy(x, y)


def surface(model: Toy, extent: float = 3.0, resolution: int = 81) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cost on a grid of (w1, w2): (w1 values, w2 values, cost [w2, w1])."""
    axis = torch.linspace(-extent, extent, resolution, dtype=torch.float64)
    w2, w1 = torch.meshgrid(axis, axis, indexing="ij")
    return axis, axis, model.cost(w1, w2)


@dataclass
class Descent:
    path: torch.Tensor  # [steps + 1, 2]: (w1, w2) after each step
    costs: torch.Tensor  # [steps + 1]


def gradient_descent(model: Toy, start: tuple[float, float], learning_rate: float = 0.1, steps: int = 60) -> Descent:
    """Plain gradient descent from `start`: w ← w − learning_rate · ∇cost(w)."""
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ExplainerError(f"the learning rate must be a positive number, got {learning_rate!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise ExplainerError(f"steps must be a whole number >= 0, got {steps!r}")
    w = np.array(start, dtype=np.float64)
    path, costs = [w], []
    for _ in range(steps):
        cost, gradient = model.cost_and_gradient(*w)
        costs.append(cost)
        w = w - learning_rate * gradient
        path.append(w)
    costs.append(model.cost_and_gradient(*w)[0])
    return Descent(torch.from_numpy(np.stack(path)), torch.tensor(costs, dtype=torch.float64))


# ---------- our model, step by step ----------

@dataclass
class SnapshotPrediction:
    step: int
    top_tokens: list[str]
    top_probs: list[float]
    sample: str  # a seeded continuation
    loss: float | None  # the training loss recorded at (or just before) this step


def snapshot_predictions(folder: str | Path | None, prompt: str, top: int = 8, new_tokens: int = 30,
                         seed: int = 0, temperature: float = 0.8) -> list[SnapshotPrediction]:
    """The same prompt at every saved training step: the next-token distribution and a sampled continuation."""
    folder = Path(folder or checkpoint.SHIPPED_CHECKPOINT)
    steps = checkpoint.snapshot_steps(folder)
    losses = checkpoint.losses_at(folder, steps)
    found = []
    for step in steps:
        lm = checkpoint.load(folder, step=step)
        probs = torch.softmax(lm.next_token_logits(prompt), -1)
        best = torch.topk(probs, top)
        found.append(SnapshotPrediction(step, lm.tokens(best.indices.tolist()), best.values.tolist(),
                                        lm.generate(prompt, new_tokens, temperature=temperature, seed=seed), losses[step]))
    return found
