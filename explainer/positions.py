"""How a transformer knows word order: sinusoidal encodings, rotary embeddings (RoPE), and why it needs them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explainer import attention
from explainer.errors import ExplainerError
from explainer.gpt.checkpoint import LanguageModel


def sinusoidal(n_positions: int, d: int, base: float = 10_000.0) -> torch.Tensor:
    """The original paper's encodings [n_positions, d]: pairs (sin, cos) of position · base^(−2i/d)."""
    if d < 2 or d % 2:
        raise ExplainerError(f"the encoding size d must be an even number >= 2, got {d}")
    positions = torch.arange(n_positions, dtype=torch.float64)[:, None]
    frequencies = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions * frequencies  # [n, d/2]
    encoding = torch.empty(n_positions, d, dtype=torch.float64)
    encoding[:, 0::2], encoding[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return encoding


def shift_matrix(offset: int, d: int, base: float = 10_000.0) -> torch.Tensor:
    """The fixed rotation M_k with sinusoidal(p + k) = sinusoidal(p) @ M_k for every p: shifts are linear maps."""
    frequencies = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    matrix = torch.zeros(d, d, dtype=torch.float64)
    for i, angle in enumerate(offset * frequencies):
        c, s = torch.cos(angle), torch.sin(angle)
        # (sin(a + b), cos(a + b)) = (sin a cos b + cos a sin b, cos a cos b − sin a sin b)
        matrix[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return matrix


def rope(x: torch.Tensor, position: int | torch.Tensor, base: float = 10_000.0) -> torch.Tensor:
    """Rotary embedding: rotate each pair of coordinates (2i, 2i+1) of x [..., d] by position · base^(−2i/d)."""
    d = x.shape[-1]
    if d % 2:
        raise ExplainerError(f"RoPE rotates pairs of coordinates: the size must be even, got {d}")
    frequencies = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.as_tensor(position, dtype=torch.float64)[..., None] * frequencies
    even, odd = x[..., 0::2].double(), x[..., 1::2].double()
    rotated = torch.empty(*x.shape, dtype=torch.float64)
    rotated[..., 0::2] = even * torch.cos(angles) - odd * torch.sin(angles)
    rotated[..., 1::2] = even * torch.sin(angles) + odd * torch.cos(angles)
    return rotated


def rope_score(q: torch.Tensor, k: torch.Tensor, query_position: int, key_position: int) -> float:
    """q·k after rotating q to its position and k to its: depends only on query_position − key_position."""
    return float(rope(q, query_position) @ rope(k, key_position))


def shift_errors(n_positions: int, d: int, offsets: list[int]) -> dict[int, float]:
    """For each offset k, the largest error of sinusoidal(p) @ M_k against sinusoidal(p + k): 0 up to rounding."""
    encoding = sinusoidal(n_positions, d)
    return {k: float((encoding[: n_positions - k] @ shift_matrix(k, d) - encoding[k:]).abs().max()) for k in offsets}


def head_without_positions(lm: LanguageModel, ids: list[int], layer: int = 0, head: int = 0) -> torch.Tensor:
    """One head's output [n, d_head] on token embeddings alone: no position embeddings, no causal mask."""
    weights = attention.head_weights(lm, layer, head)
    x = lm.layout.attn_norm(layer, lm.layout.W_E[torch.tensor(ids, device=lm.layout.W_E.device)]).cpu()
    q, k, v = (attention.project(x, W, b) for W, b in ((weights.W_Q, weights.b_Q), (weights.W_K, weights.b_K), (weights.W_V, weights.b_V)))
    pattern = attention.masked_softmax(attention.scale_scores(attention.score_grid(q, k), q.shape[-1]), "none")
    return attention.weighted_values(pattern, v)


@dataclass(frozen=True)
class PermutationCheck:
    order: list[int]  # the shuffle
    largest_difference: float  # |head(shuffled) − shuffle(head(original))|, largest entry
    equivariant: bool


def permutation_check(lm: LanguageModel, prompt: str, layer: int = 0, head: int = 0, seed: int = 0) -> PermutationCheck:
    """Shuffle the prompt's tokens: without positions or a mask, the head's outputs are shuffled the same way."""
    ids = lm.encode(prompt)
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))
    plain = head_without_positions(lm, ids, layer, head)
    shuffled = head_without_positions(lm, [ids[i] for i in order], layer, head)
    difference = float((shuffled - plain[order]).abs().max())
    return PermutationCheck(order.tolist(), difference, bool(torch.allclose(shuffled, plain[order], atol=1e-5)))


def position_similarity(lm: LanguageModel, positions: int = 128) -> torch.Tensor | None:
    """Cosine similarity between every pair of the model's learned position embeddings (the first `positions` of
    them) [n, n], or None for a model with rotary positions, which has no position table."""
    W_pos = lm.layout.W_pos
    if W_pos is None:
        return None
    table = W_pos[:positions].cpu()
    unit = table / table.norm(dim=1, keepdim=True)
    return unit @ unit.T


def model_rope_scores(lm: LanguageModel, offsets: list[int], layer: int = 0, head: int = 0, seed: int = 0) -> list[float]:
    """With the model's own rotation (its θ), a random query and key of one head's size, the query `offset` positions
    after the key: their dot product for each offset (the same wherever the pair sits)."""
    q, k = random_query_key(lm.layout.d_head, seed)
    rotate = lambda x, at: lm.layout.rotate(x[None], [at])[0]
    return [float(rotate(q, offset) @ rotate(k, 0)) for offset in offsets]


def describe(lm: LanguageModel) -> str:
    """How this model gives its tokens positions, in one line (Markdown)."""
    if lm.layout.W_pos is not None:
        return (f"This model learns a position table: one vector of {lm.layout.d_model} numbers for each of its "
                f"{lm.block_size:,} positions, added to the token's embedding.")
    return ("This model has **no position table**: it rotates every query and key by its position (RoPE, "
            f"θ = {lm.model.config.rope_theta:g}), so a score depends on how far apart two tokens are.")


def random_query_key(d: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(d, generator=generator), torch.randn(d, generator=generator)


def rope_scores_by_offset(q: torch.Tensor, k: torch.Tensor, offsets: list[int], key_position: int = 100) -> list[float]:
    return [rope_score(q, k, key_position + o, key_position) for o in offsets]
