"""Tokenize anything: an image cut into square patches, each patch's pixels flattened and mapped by one matrix to a
vector, the way a vision transformer (ViT: Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words") turns an image
into tokens. From there on the vectors go through the same blocks as words do. The image is drawn here in code (a
sky, a sun and a hill), and the matrix is random, as a ViT's is before training."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explainer.errors import ExplainerError

IMAGE_SIZE, PATCH = 32, 8  # a 32 × 32 picture in 8 × 8 patches: 16 tokens


def drawn_image(size: int = IMAGE_SIZE) -> torch.Tensor:
    """A small picture [size, size, 3], values 0 … 1: a sky that darkens upwards, a yellow sun, a green hill."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")  # y = 0 at the top
    image = torch.stack([0.35 + 0.4 * y, 0.55 + 0.35 * y, torch.full_like(y, 0.95)], -1)  # sky
    sun = (x - 0.7) ** 2 + (y - 0.3) ** 2 < 0.15 ** 2
    hill = y > 0.75 - 0.25 * torch.exp(-((x - 0.3) / 0.25) ** 2)
    image[sun] = torch.tensor([1.0, 0.85, 0.2])
    image[hill] = torch.stack([0.2 + 0.1 * x[hill], 0.55 + 0.2 * (1 - y[hill]), 0.2 + 0 * x[hill]], -1)
    return image


def cut_into_patches(image: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """[H, W, 3] → [patches, patch · patch · 3], patches in reading order (row by row)."""
    height, width, channels = image.shape
    if height % patch or width % patch:
        raise ExplainerError(f"a {height} × {width} image does not cut into {patch} × {patch} patches; pick a patch size "
                             f"that divides both")
    grid = image.reshape(height // patch, patch, width // patch, patch, channels).permute(0, 2, 1, 3, 4)
    return grid.reshape(-1, patch * patch * channels)


@dataclass
class PatchTokens:
    image: torch.Tensor  # [H, W, 3]
    patch: int
    pixels: torch.Tensor  # [n, patch · patch · 3]: each patch flattened
    projection: torch.Tensor  # [patch · patch · 3, C]: one matrix for every patch, as W_E is for every word
    vectors: torch.Tensor  # [n, C]: the patches as tokens


def image_tokens(d_model: int, patch: int = PATCH, seed: int = 0) -> PatchTokens:
    """The drawn image as n = (size / patch)² vectors of d_model numbers."""
    image = drawn_image()
    pixels = cut_into_patches(image, patch)
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(pixels.shape[1], d_model, generator=generator) / pixels.shape[1] ** 0.5
    return PatchTokens(image, patch, pixels, projection, pixels @ projection)
