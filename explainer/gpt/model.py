"""A small decoder-only GPT in the style of nanoGPT, with a TransformerLens-style introspection path.

One model class covers two families, chosen by its config:
- GPT-2 (nanoGPT's defaults): learned position table, LayerNorm, GELU MLP, biases, unembedding tied to the embedding;
- LLaMA (Qwen2, Mistral): rotary positions (RoPE), RMSNorm, gated SwiGLU MLP, fewer key/value heads than query heads
  (grouped-query attention), no biases (Qwen2: on queries, keys and values), a separate unembedding.

Shapes: B = batch, T = tokens in this call, S = tokens attended to (past + new), C = n_embd, H = n_head (query heads),
K = key/value heads (H for GPT-2), D = head size, M = MLP width, V = vocab size.

Two ways through attention compute the same thing:
- the fast path (training, generation) calls `F.scaled_dot_product_attention`;
- the introspection path (`run_with_cache`) writes every step out (scores, -inf mask, softmax,
  weighted sum) and records it in a cache keyed like TransformerLens (see hooks.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from explainer.errors import ExplainerError
from explainer.gpt.hooks import ActivationCache, NamesFilter, Recorder, names_predicate, record, recorded_shapes
from explainer.gpt.layout import Layout
from explainer.gpt.memory import check_cache_fits

ACTIVATIONS = {"gelu": "none", "gelu_tanh": "tanh", "swiglu": None}  # name -> F.gelu's `approximate` (swiglu: gated)
POSITIONS = ("learned", "rope")
NORMS = ("layernorm", "rmsnorm")
ROPE_TYPES = ("default", "llama3")
KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys (rotated), values, each [B, K, S, D]
Rotation = tuple[torch.Tensor, torch.Tensor]  # RoPE's cos and sin for the tokens of this call, each [T, D]


class ContextError(ExplainerError, ValueError):
    """More tokens than the model's context window, or none at all."""


@dataclass
class GPTConfig:
    vocab_size: int = 2048
    block_size: int = 64  # context window: the most tokens the model can look at
    n_layer: int = 4
    n_head: int = 4  # query heads
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in every Linear and LayerNorm (nanoGPT's switch; its own default is False)
    activation: str = "gelu"  # the MLP: "gelu" (exact, nanoGPT), "gelu_tanh" (GPT-2's), "swiglu" (LLaMA's gated MLP)
    norm_eps: float = 1e-5  # ε of every LayerNorm or RMSNorm
    positions: str = "learned"  # "learned" (a table added to the embeddings) or "rope" (queries and keys rotated)
    rope_theta: float = 10000.0  # RoPE's base: pair i of a head turns by position × theta^(-2i/D)
    rope_scaling: dict | None = None  # None, or LLaMA-3's {"rope_type": "llama3", "factor", "low_freq_factor", ...}
    norm: str = "layernorm"  # "layernorm" or "rmsnorm"
    mlp_hidden: int | None = None  # MLP width M (None: 4 × n_embd)
    n_kv_head: int | None = None  # key/value heads (None: n_head); fewer: each is shared by a group of query heads
    qkv_bias: bool | None = None  # biases on queries, keys and values (None: as `bias`; Qwen2: on these only)
    tied: bool = True  # the unembedding is the token embedding transposed (GPT-2), or a matrix of its own

    def __post_init__(self):
        choices = {"activation": ACTIVATIONS, "positions": POSITIONS, "norm": NORMS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ExplainerError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head:
            raise ExplainerError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_head % self.kv_heads:
            raise ExplainerError(f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.n_kv_head}): each "
                                 "key/value head serves a group of query heads of the same size")
        if self.positions == "rope" and self.head_size % 2:
            raise ExplainerError(f"RoPE turns pairs of numbers: the head size must be even, got {self.head_size}")
        if self.rope_type not in ROPE_TYPES:
            raise ExplainerError(f"RoPE scaling of type {self.rope_type!r} is not supported: only the plain rotation "
                                 f"('default') and LLaMA-3's ('llama3')")

    @classmethod
    def from_dict(cls, data: dict) -> GPTConfig:
        """A config as saved by to_dict (older checkpoints named norm_eps layer_norm_eps)."""
        data = dict(data)
        if "layer_norm_eps" in data:
            data["norm_eps"] = data.pop("layer_norm_eps")
        unknown = sorted(data.keys() - {f.name for f in fields(cls)})
        if unknown:
            raise ExplainerError(f"unknown model settings {', '.join(unknown)}: this checkpoint was written by a newer "
                                 "version of explainer; update it")
        return cls(**data)

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    @property
    def hidden(self) -> int:
        return self.mlp_hidden or 4 * self.n_embd

    @property
    def gated(self) -> bool:
        return self.activation == "swiglu"

    @property
    def qkv_biased(self) -> bool:
        return self.bias if self.qkv_bias is None else self.qkv_bias

    @property
    def rope_type(self) -> str:
        scaling = self.rope_scaling or {}
        return scaling.get("rope_type", scaling.get("type", "default"))

    def to_dict(self) -> dict:
        return asdict(self)

    def parameter_count(self) -> int:
        """The number of weights a GPT of this config holds (the tied embedding/unembedding counted once)."""
        C, V, M, L = self.n_embd, self.vocab_size, self.hidden, self.n_layer
        q, kv = self.n_head * self.head_size, self.kv_heads * self.head_size
        norm = C * (2 if self.norm == "layernorm" and self.bias else 1)
        attention = C * (q + 2 * kv) + (q + 2 * kv) * self.qkv_biased + q * C + C * self.bias
        mlp = (3 if self.gated else 2) * C * M + (M * (2 if self.gated else 1) + C) * self.bias
        embeddings = V * C + (self.block_size * C if self.positions == "learned" else 0) + (0 if self.tied else V * C)
        return embeddings + L * (attention + mlp + 2 * norm) + norm

    def architecture(self) -> str:
        """The family and what sets it apart, e.g. 'LLaMA-style: RoPE, RMSNorm, SwiGLU MLP, 8 query heads sharing 2
        key/value heads'."""
        llama = (self.positions, self.norm, self.gated) == ("rope", "rmsnorm", True)
        gpt2 = (self.positions, self.norm, self.gated) == ("learned", "layernorm", False)
        parts = ["RoPE" if self.positions == "rope" else "learned positions",
                 "RMSNorm" if self.norm == "rmsnorm" else "LayerNorm", "SwiGLU MLP" if self.gated else "GELU MLP"]
        if self.kv_heads < self.n_head:
            shared = "one key/value head" if self.kv_heads == 1 else f"{self.kv_heads} key/value heads"
            parts.append(f"{self.n_head} query heads sharing {shared}")
        if self.qkv_biased and not self.bias:
            parts.append("biases on queries, keys and values only")
        elif not self.bias and gpt2:
            parts.append("no biases")
        if self.tied != gpt2:
            parts.append("unembedding tied to the embedding" if self.tied else "unembedding separate from the embedding")
        family = "LLaMA-style" if llama else "GPT-2-style" if gpt2 else "mixed"
        return f"{family}: {', '.join(parts)}"


# ---------- the pieces ----------

def make_norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":  # x / √(mean(x²) + ε) × γ, as LLaMA computes it
        return nn.RMSNorm(config.n_embd, eps=config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


def rope_frequencies(config: GPTConfig) -> torch.Tensor:
    """Each rotated pair's angle per position [D/2], as Hugging Face computes it (with LLaMA-3's stretch of the slow
    pairs, if the config asks for it)."""
    D = config.head_size
    inverse = 1.0 / (config.rope_theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    if config.rope_type != "llama3":
        return inverse
    scaling = config.rope_scaling
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    wavelength = 2 * math.pi / inverse
    stretched = torch.where(wavelength > old_context / low, inverse / factor, inverse)  # slow pairs: turn `factor`× slower
    smooth = (old_context / wavelength - low) / (high - low)  # in between: a blend of the two
    blended = (1 - smooth) * stretched / factor + smooth * stretched
    between = (wavelength >= old_context / high) & (wavelength <= old_context / low)
    return torch.where(between, blended, stretched)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rope(x: torch.Tensor, rotation: Rotation) -> torch.Tensor:
    """x [..., T, D] turned by each token's angles."""
    cos, sin = rotation
    return x * cos + rotate_half(x) * sin


class Rotary(nn.Module):
    """Rotary position embedding (RoPE) in Hugging Face's rotate-half convention: number i of a head is paired with
    number i + D/2, and each pair turns by an angle proportional to the token's position."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.register_buffer("frequencies", rope_frequencies(config), persistent=False)  # [D/2], not a weight

    def forward(self, positions: torch.Tensor) -> Rotation:
        angles = positions.float()[:, None] * self.frequencies[None, :]  # [T, D/2]
        angles = torch.cat([angles, angles], dim=-1)  # [T, D]
        return angles.cos(), angles.sin()

    def rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x [..., T, D] turned as at `positions` [T]."""
        return apply_rope(x, self(positions))


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_size = config.n_head, config.kv_heads, config.head_size
        self.widths = [config.n_head * self.head_size, self.n_kv_head * self.head_size, self.n_kv_head * self.head_size]
        self.c_attn = nn.Linear(config.n_embd, sum(self.widths), bias=config.qkv_biased)  # queries, keys, values
        self.c_proj = nn.Linear(self.widths[0], config.n_embd, bias=config.bias)  # heads' outputs back to C
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, width = x.shape
        return x.view(B, T, width // self.head_size, self.head_size).transpose(1, 2)  # [B, heads, T, D]

    def forward(
        self, x: torch.Tensor, rotation: Rotation | None = None, past: tuple[torch.Tensor, torch.Tensor] | None = None,
        recorder: Recorder | None = None, name: str = "",
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = map(self.split_heads, self.c_attn(x).split(self.widths, dim=2))  # [B, H, T, D], [B, K, T, D] × 2
        if rotation is not None:
            q, k = apply_rope(q, rotation), apply_rope(k, rotation)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # [B, K, S, D]
        S = k.shape[2]
        # Query i sits at absolute position S - T + i and may read keys 0 .. S - T + i.
        allowed = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        shared = self.n_kv_head < self.n_head
        if recorder is None:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None if S == T else allowed, is_causal=S == T,
                dropout_p=self.dropout if self.training else 0.0, enable_gqa=shared,
            )
        else:
            group = self.n_head // self.n_kv_head  # query heads h read key/value head h // group
            keys, values = (k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)) if shared else (k, v)
            scores = (q @ keys.transpose(-2, -1)) / math.sqrt(self.head_size)  # [B, H, T, S]
            pattern = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
            y = pattern @ values  # [B, H, T, D]
            for hook, value in (("q", q), ("k", k), ("v", v), ("z", y)):
                record(recorder, f"{name}hook_{hook}", value.transpose(1, 2))  # [B, T or S, heads, D] as in TransformerLens
            record(recorder, f"{name}hook_attn_scores", scores)
            record(recorder, f"{name}hook_pattern", pattern)
        y = y.transpose(1, 2).reshape(B, T, self.widths[0])  # heads side by side
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    """GELU: c_proj(gelu(c_fc(x))). Gated (SwiGLU, LLaMA): c_proj(silu(c_gate(x)) × c_fc(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.hidden, bias=config.bias)  # in (LLaMA's up_proj)
        self.c_gate = nn.Linear(config.n_embd, config.hidden, bias=config.bias) if config.gated else None  # gate_proj
        self.c_proj = nn.Linear(config.hidden, config.n_embd, bias=config.bias)  # out (down_proj)
        self.dropout = nn.Dropout(config.dropout)
        self.approximate = ACTIVATIONS[config.activation]

    def nonlinearity(self, pre: torch.Tensor, pre_linear: torch.Tensor | None = None) -> torch.Tensor:
        """Neuron activations from the pre-activations (gated: from the gate's `pre` and the linear `pre_linear`)."""
        if self.c_gate is None:
            return F.gelu(pre, approximate=self.approximate)
        if pre_linear is None:
            raise ExplainerError("a gated MLP's neurons need both the gate's pre-activation and the linear one (pre_linear)")
        return F.silu(pre) * pre_linear

    def forward(self, x: torch.Tensor, recorder: Recorder | None = None, name: str = "") -> torch.Tensor:
        if self.c_gate is None:
            pre, pre_linear = self.c_fc(x), None  # [B, T, M]
        else:
            pre, pre_linear = self.c_gate(x), self.c_fc(x)  # as TransformerLens: hook_pre is the gate's
            record(recorder, f"{name}hook_pre_linear", pre_linear)
        post = self.nonlinearity(pre, pre_linear)
        record(recorder, f"{name}hook_pre", pre)
        record(recorder, f"{name}hook_post", post)
        return self.dropout(self.c_proj(post))


class Block(nn.Module):
    """Pre-norm block: attention (tokens communicate), then MLP (each token computes), both added to the residual."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(self, x, rotation=None, past=None, recorder: Recorder | None = None, name: str = ""):
        record(recorder, f"{name}hook_resid_pre", x)
        attn_out, present = self.attn(self.ln_1(x), rotation, past, recorder, f"{name}attn.")
        x = x + attn_out
        record(recorder, f"{name}hook_attn_out", attn_out)
        record(recorder, f"{name}hook_resid_mid", x)
        mlp_out = self.mlp(self.ln_2(x), recorder, f"{name}mlp.")
        x = x + mlp_out
        record(recorder, f"{name}hook_mlp_out", mlp_out)
        record(recorder, f"{name}hook_resid_post", x)
        return x, present


# ---------- the model ----------

class GPT(nn.Module):
    def __init__(self, config: GPTConfig, initialise: bool = True):
        """initialise=False skips GPT-2's random initialisation, for weights that are loaded next."""
        super().__init__()
        self.config = config
        parts = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))  # token embeddings
        if config.positions == "learned":
            parts["wpe"] = nn.Embedding(config.block_size, config.n_embd)  # learned position embeddings
        self.transformer = nn.ModuleDict(dict(
            **parts,
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=make_norm(config),
        ))
        self.rotary = Rotary(config) if config.positions == "rope" else None
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tied:
            self.transformer.wte.weight = self.lm_head.weight  # unembedding = embedding transposed
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

    @property
    def layout(self) -> Layout:
        """Per-head weight views and the model's own norms, nonlinearity and positions, for concept code."""
        return Layout(self)

    def num_parameters(self) -> int:
        """Distinct weights (a tied embedding/unembedding counted once)."""
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
        self, idx: torch.Tensor, past: KVCache | None = None, recorder: Recorder | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits [B, T, V] for tokens `idx` [B, T] that follow the `past` keys/values; returns the grown KV cache.
        With a recorder, attention takes the introspection path and the recorder keeps what it is asked for."""
        past_length = past[0][0].shape[2] if past else 0
        self.check_tokens(idx, past_length)
        positions = torch.arange(past_length, past_length + idx.shape[1], device=idx.device)
        x = self.transformer.wte(idx)  # [B, T, C]
        record(recorder, "hook_embed", x)
        rotation = None
        if self.rotary is None:
            position_embeddings = self.transformer.wpe(positions)  # [T, C]
            record(recorder, "hook_pos_embed", position_embeddings)
            x = x + position_embeddings
        else:
            rotation = self.rotary(positions)  # applied to queries and keys in every layer
        x = self.transformer.drop(x)
        present: KVCache = []
        for layer, block in enumerate(self.transformer.h):
            x, layer_kv = block(x, rotation, past[layer] if past else None, recorder, f"blocks.{layer}.")
            present.append(layer_kv)
        x = self.transformer.ln_f(x)
        record(recorder, "ln_final.hook_normalized", x)
        return self.lm_head(x), present

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Fast path. Returns (logits [B, T, V], mean cross-entropy against `targets` or None)."""
        logits, _ = self.forward_with_past(idx)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def hook_names(self) -> list[str]:
        """Every cache key run_with_cache records for this model."""
        return list(recorded_shapes(self.config))

    @torch.no_grad()
    def run_with_cache(self, idx: torch.Tensor, names: NamesFilter = None) -> tuple[torch.Tensor, ActivationCache]:
        """Introspection path: (logits, cache) where cache['blocks.0.attn.hook_pattern'] is [B, H, query, key].
        `names` keeps only some keys: one (act_name('pattern', 3)), a list of them, or a function of the key.
        Refuses with MemoryBudgetError, before running, a run that would not fit in the memory free."""
        keep = names_predicate(names, self.hook_names())
        if idx.ndim == 2:
            check_cache_fits(self.config, idx.shape[1], idx.shape[0], names, idx.device)
        recorder = Recorder(keep)
        logits, _ = self.forward_with_past(idx, recorder=recorder)
        return logits, recorder.cache
