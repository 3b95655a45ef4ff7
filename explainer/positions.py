"""How a transformer knows word order: sinusoidal encodings, rotary embeddings (RoPE), and why it needs them."""

from __future__ import annotations

import torch

from explainer.errors import ExplainerError


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
