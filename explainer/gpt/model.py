"""A small decoder-only GPT in the style of nanoGPT, with a TransformerLens-style introspection path.

Shapes: B = batch, T = tokens in this call, S = tokens attended to (past + new), C = n_embd,
H = n_head, D = head size (C / H), V = vocab size.

Two ways through attention compute the same thing:
- the fast path (training, generation) calls `F.scaled_dot_product_attention`;
- the introspection path (`run_with_cache`) writes every step out (scores, -inf mask, softmax,
  weighted sum) and records it in a cache keyed like TransformerLens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from explainer.errors import ExplainerError

ACTIVATIONS = {"gelu": "none", "gelu_tanh": "tanh"}  # name -> F.gelu's `approximate`
KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values, each [B, H, S, D]
ActivationCache = dict[str, torch.Tensor]


class ContextError(ExplainerError, ValueError):
    """More tokens than the model's context window, or none at all."""


@dataclass
class GPTConfig:
    vocab_size: int = 2048
    block_size: int = 64  # context window: the most tokens the model can look at
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    activation: str = "gelu"  # the MLP's nonlinearity: "gelu" (exact, nanoGPT) or "gelu_tanh" (GPT-2's approximation)
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ExplainerError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.activation not in ACTIVATIONS:
            raise ExplainerError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


def record(cache: ActivationCache | None, name: str, value: torch.Tensor) -> None:
    if cache is not None:
        cache[name] = value.detach()


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.head_size = config.n_head, config.head_size
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # queries, keys, values
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)  # heads' outputs back to C
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # [B, H, T, D]

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: ActivationCache | None = None, name: str = "",
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = map(self.split_heads, self.c_attn(x).split(C, dim=2))  # each [B, H, T, D]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # [B, H, S, D]
        S = k.shape[2]
        # Query i sits at absolute position S - T + i and may read keys 0 .. S - T + i.
        allowed = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        if cache is None:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if S == T else allowed, is_causal=S == T,
                dropout_p=self.dropout if self.training else 0.0,
            )
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_size)  # [B, H, T, S]
            pattern = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
            y = pattern @ v  # [B, H, T, D]
            for hook, value in (("q", q), ("k", k), ("v", v), ("z", y)):
                record(cache, f"{name}hook_{hook}", value.transpose(1, 2))  # [B, T or S, H, D] as in TransformerLens
            record(cache, f"{name}hook_attn_scores", scores)
            record(cache, f"{name}hook_pattern", pattern)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)
        self.approximate = ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor, cache: ActivationCache | None = None, name: str = "") -> torch.Tensor:
        pre = self.c_fc(x)  # [B, T, 4C]
        post = F.gelu(pre, approximate=self.approximate)
        record(cache, f"{name}hook_pre", pre)
        record(cache, f"{name}hook_post", post)
        return self.dropout(self.c_proj(post))


class Block(nn.Module):
    """Pre-LayerNorm block: attention (tokens communicate), then MLP (each token computes), both added to the residual."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, past=None, cache: ActivationCache | None = None, name: str = ""):
        record(cache, f"{name}hook_resid_pre", x)
        attn_out, present = self.attn(self.ln_1(x), past, cache, f"{name}attn.")
        x = x + attn_out
        record(cache, f"{name}hook_attn_out", attn_out)
        record(cache, f"{name}hook_resid_mid", x)
        mlp_out = self.mlp(self.ln_2(x), cache, f"{name}mlp.")
        x = x + mlp_out
        record(cache, f"{name}hook_mlp_out", mlp_out)
        record(cache, f"{name}hook_resid_post", x)
        return x, present


class GPT(nn.Module):
    def __init__(self, config: GPTConfig, initialise: bool = True):
        """initialise=False skips GPT-2's random initialisation, for weights that are loaded next."""
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embeddings
            wpe=nn.Embedding(config.block_size, config.n_embd),  # learned position embeddings
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied: unembedding = embedding transposed
        if initialise:
            self.initialise()

    def initialise(self) -> None:
        """GPT-2's random initialisation."""
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2's scaled init of the projections into the residual
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """Distinct weights (the tied embedding/unembedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def check_tokens(self, idx: torch.Tensor, past_length: int = 0) -> None:
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ContextError(f"expected a [batch, tokens] tensor with at least one token, got shape {tuple(idx.shape)}")
        if past_length + idx.shape[1] > self.config.block_size:
            raise ContextError(
                f"{past_length + idx.shape[1]} tokens exceed the context window of {self.config.block_size}; "
                f"crop the input to its last {self.config.block_size} tokens"
            )
        if torch.compiler.is_compiling():
            return  # reading values out of the tensor would break the compiled graph
        if int(idx.min()) < 0 or int(idx.max()) >= self.config.vocab_size:
            raise ContextError(f"token ids must lie in [0, {self.config.vocab_size}), got {int(idx.min())}..{int(idx.max())}")

    def forward_with_past(
        self, idx: torch.Tensor, past: KVCache | None = None, cache: ActivationCache | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits [B, T, V] for tokens `idx` [B, T] that follow the `past` keys/values; returns the grown KV cache."""
        past_length = past[0][0].shape[2] if past else 0
        self.check_tokens(idx, past_length)
        positions = torch.arange(past_length, past_length + idx.shape[1], device=idx.device)
        token_embeddings = self.transformer.wte(idx)  # [B, T, C]
        position_embeddings = self.transformer.wpe(positions)  # [T, C]
        record(cache, "hook_embed", token_embeddings)
        record(cache, "hook_pos_embed", position_embeddings)
        x = self.transformer.drop(token_embeddings + position_embeddings)
        present: KVCache = []
        for layer, block in enumerate(self.transformer.h):
            x, layer_kv = block(x, past[layer] if past else None, cache, f"blocks.{layer}.")
            present.append(layer_kv)
        x = self.transformer.ln_f(x)
        record(cache, "ln_final.hook_normalized", x)
        return self.lm_head(x), present

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Fast path. Returns (logits [B, T, V], mean cross-entropy against `targets` or None)."""
        logits, _ = self.forward_with_past(idx)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def run_with_cache(self, idx: torch.Tensor) -> tuple[torch.Tensor, ActivationCache]:
        """Introspection path: (logits, cache) where cache['blocks.0.attn.hook_pattern'] is [B, H, query, key]."""
        cache: ActivationCache = {}
        logits, _ = self.forward_with_past(idx, cache=cache)
        return logits, cache
