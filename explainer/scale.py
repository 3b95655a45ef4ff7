"""Counting weights and costs from a config: where a transformer's parameters live, and what attention costs."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch

from explainer.errors import ExplainerError
from explainer.gpt import budget
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.generate import generate_ids
from explainer.gpt.model import GPTConfig


@dataclass(frozen=True)
class Shape:
    """The sizes that fix a decoder-only transformer's weight count."""

    name: str
    d_model: int
    n_layers: int
    n_heads: int
    d_head: int
    vocab: int
    context: int
    d_mlp: int
    tied_embeddings: bool = False  # unembedding = embedding transposed (counted once)
    count_positions: bool = False  # learned position embeddings
    count_biases_and_norms: bool = False  # biases and LayerNorm gains/biases
    kv_heads: int | None = None  # key/value heads, fewer than n_heads with grouped-query attention (None: n_heads)
    gated_mlp: bool = False  # a third MLP matrix, the gate (LLaMA's SwiGLU)
    biases_and_norms: int | None = None  # their exact count, when the GPT-2 formula does not apply

    def __post_init__(self):
        for field_name in ("d_model", "n_layers", "n_heads", "d_head", "vocab", "context", "d_mlp"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or value < 1:
                raise ExplainerError(f"{field_name} must be a whole number >= 1, got {value!r}")


GPT3 = Shape("GPT-3 (175B)", d_model=12_288, n_layers=96, n_heads=96, d_head=128, vocab=50_257, context=2_048, d_mlp=49_152)
GPT3_ALL = Shape("GPT-3, every weight", d_model=12_288, n_layers=96, n_heads=96, d_head=128, vocab=50_257, context=2_048,
                 d_mlp=49_152, count_positions=True, count_biases_and_norms=True)
GPT2_SMALL = Shape("GPT-2 small", d_model=768, n_layers=12, n_heads=12, d_head=64, vocab=50_257, context=1_024, d_mlp=3_072,
                   tied_embeddings=True, count_positions=True, count_biases_and_norms=True)


def shape_of(config: GPTConfig, name: str = "our model") -> Shape:
    """A loaded model's shape, counting everything the module holds (so the tally equals sum(p.numel()))."""
    shape = Shape(name, config.n_embd, config.n_layer, config.n_head, config.head_size, config.vocab_size,
                  config.block_size, config.hidden, tied_embeddings=config.tied, count_positions=config.positions == "learned",
                  kv_heads=config.kv_heads, gated_mlp=config.gated)
    matrices = sum(tally(shape).values())
    return replace(shape, count_biases_and_norms=True, biases_and_norms=config.parameter_count() - matrices)


def tally(shape: Shape) -> dict[str, int]:
    """Weights by kind. Each head's key, query and value maps are d_model × d_head; 'output' is each head's
    d_head × d_model map back up, so value + output is the low-rank 'value down, then up' of the lecture."""
    d, L, H, k = shape.d_model, shape.n_layers, shape.n_heads, shape.d_head
    kv = shape.kv_heads or H
    counts = {
        "embedding": shape.vocab * d,
        "query": L * H * d * k,
        "key": L * kv * d * k,
        "value": L * kv * d * k,
        "output": L * H * k * d,
        "MLP up": L * d * shape.d_mlp,
        **({"MLP gate": L * d * shape.d_mlp} if shape.gated_mlp else {}),
        "MLP down": L * shape.d_mlp * d,
        "unembedding": 0 if shape.tied_embeddings else shape.vocab * d,
    }
    if shape.count_positions:
        counts["position embedding"] = shape.context * d
    if shape.count_biases_and_norms:
        attention_biases = L * ((H + 2 * kv) * k + d)
        mlp_biases = L * (shape.d_mlp + d)
        norms = (2 * L + 1) * 2 * d
        counts["biases and LayerNorms"] = (attention_biases + mlp_biases + norms if shape.biases_and_norms is None
                                           else shape.biases_and_norms)
    return counts


def attention_share(shape: Shape) -> float:
    counts = tally(shape)
    return sum(counts[k] for k in ("query", "key", "value", "output")) / sum(counts.values())


def mlp_share(shape: Shape) -> float:
    counts = tally(shape)
    return sum(counts[k] for k in ("MLP up", "MLP gate", "MLP down") if k in counts) / sum(counts.values())


def embedding_share(shape: Shape) -> float:
    """The token embedding's (and, when untied, the unembedding's) share of the weights."""
    counts = tally(shape)
    return (counts["embedding"] + counts["unembedding"]) / sum(counts.values())


@dataclass(frozen=True)
class LayerCost:
    attention_flops: int  # QKᵀ and the weighted sum of values: grows with n²
    projection_flops: int  # Q, K, V and output projections: grows with n
    mlp_flops: int  # grows with n
    pattern_bytes: int  # the n × n attention patterns of all heads (fp16)


def layer_cost(n: int, d_model: int, n_heads: int, d_head: int, d_mlp: int) -> LayerCost:
    """Forward FLOPs (multiply-adds × 2) of one layer on n tokens, and the memory of its attention patterns."""
    if n < 1:
        raise ExplainerError(f"the context length must be >= 1, got {n}")
    attention = 2 * 2 * n * n * n_heads * d_head
    projections = 2 * 4 * n * d_model * n_heads * d_head
    mlp = 2 * 2 * n * d_model * d_mlp
    return LayerCost(attention, projections, mlp, 2 * n * n * n_heads)


def crossover_context(d_model: int, n_heads: int, d_head: int, d_mlp: int) -> int:
    """The context length from which the n² attention FLOPs exceed the MLP's."""
    return -(-(d_model * d_mlp) // (n_heads * d_head))


def kv_sharing_text(shape: Shape) -> str:
    """Whether this shape's query heads share keys and values, and what that does to its KV cache (Markdown)."""
    heads, kv = shape.n_heads, shape.kv_heads or shape.n_heads
    if kv == heads:
        return f"**{shape.name}**: each of its {heads} heads keeps its own keys and values (multi-head attention)."
    return (f"**{shape.name}**: its {heads} query heads share {kv} key/value head{'s' if kv > 1 else ''} "
            f"({'grouped-query' if kv > 1 else 'multi-query'} attention), so its KV cache is {kv}/{heads} of what "
            "multi-head attention would keep.")


def kv_cache_bytes(shape: Shape, tokens: int, kv_heads: int | None = None, bytes_per_number: int = 2) -> int:
    """Memory of the KV cache for `tokens` tokens: keys and values of every layer. kv_heads < n_heads is
    grouped-query attention (1 = multi-query)."""
    kv_heads = shape.n_heads if kv_heads is None else kv_heads
    if not 1 <= kv_heads <= shape.n_heads or shape.n_heads % kv_heads:
        raise ExplainerError(f"kv_heads must divide n_heads = {shape.n_heads}, got {kv_heads}")
    return 2 * shape.n_layers * kv_heads * shape.d_head * tokens * bytes_per_number


def layer_costs(lengths: list[int], d_model: int, n_heads: int, d_head: int, d_mlp: int) -> list[LayerCost]:
    return [layer_cost(n, d_model, n_heads, d_head, d_mlp) for n in lengths]


MIN_TIMED_TOKENS = 4  # fewer new tokens time Python's overhead more than the model


@dataclass(frozen=True)
class KVTiming:
    tokens: int
    cached_ms_per_token: float
    recomputed_ms_per_token: float
    identical: bool  # both ways produced the same tokens


def time_kv_cache(lm: LanguageModel, prompt: str, new_tokens: int, repeats: int = 2, seed: int = 1) -> KVTiming:
    """Generate the same tokens with and without the KV cache (same seed); the fastest of `repeats` runs each. A model
    too slow for `new_tokens` within the time budget generates fewer (KVTiming.tokens says how many)."""
    if not isinstance(new_tokens, int) or new_tokens < MIN_TIMED_TOKENS:
        raise ExplainerError(f"new_tokens must be a whole number >= {MIN_TIMED_TOKENS}, got {new_tokens!r}")
    ids = lm.encode(prompt)
    new_tokens = affordable_new_tokens(lm, len(ids), new_tokens, repeats)
    best = {True: (math.inf, None), False: (math.inf, None)}
    for _ in range(repeats):
        for cached in (True, False):
            started = time.perf_counter()
            tokens = generate_ids(lm.model, ids, new_tokens, temperature=0.8, seed=seed, use_kv_cache=cached)
            best[cached] = min(best[cached], (time.perf_counter() - started, tokens), key=lambda t: t[0])
    per_token = lambda cached: best[cached][0] * 1000 / new_tokens
    return KVTiming(new_tokens, per_token(True), per_token(False), best[True][1] == best[False][1])


def affordable_new_tokens(lm: LanguageModel, prompt_tokens: int, wanted: int, repeats: int) -> int:
    """The most new tokens (at most `wanted`) whose timing fits the budget: recomputing, step i runs prompt + i tokens."""
    cost = lambda n: repeats * (n + n * prompt_tokens + n * (n - 1) // 2)  # tokens through the model, both ways
    affordable = budget.affordable_tokens(lm.model)
    count = max((n for n in range(1, wanted + 1) if cost(n) <= affordable), default=0)
    if count < MIN_TIMED_TOKENS:
        raise budget.TooSlowError(f"timing the KV cache needs at least {MIN_TIMED_TOKENS} new tokens, more than this "
                                  f"model runs in {budget.SECONDS:.0f} s on this machine; try a smaller model")
    return count


@dataclass(frozen=True)
class DotProductSpread:
    d_k: int
    raw: torch.Tensor  # q·k for random q, k with unit-variance entries [samples]
    scaled: torch.Tensor  # q·k / √d_k
    top_weight_raw: float  # the largest softmax weight over 16 keys, unscaled
    top_weight_scaled: float


def dot_product_spread(d_k: int, samples: int = 2000, seed: int = 0) -> DotProductSpread:
    """Why ÷√d_k: q·k of random vectors has variance d_k; divided by √d_k it has variance 1."""
    if not isinstance(d_k, int) or d_k < 1:
        raise ExplainerError(f"d_k must be a whole number >= 1, got {d_k!r}")
    generator = torch.Generator().manual_seed(seed)
    q, k = torch.randn(samples, d_k, generator=generator), torch.randn(samples, d_k, generator=generator)
    raw = (q * k).sum(-1)
    scaled = raw / math.sqrt(d_k)
    return DotProductSpread(d_k, raw, scaled, float(torch.softmax(raw[:16], 0).max()), float(torch.softmax(scaled[:16], 0).max()))


def describe(shape: Shape) -> str:
    """A shape's sizes in one line (Markdown)."""
    return (f"**{shape.name}**: d_model {shape.d_model:,}; {shape.n_layers} layers; {shape.n_heads} heads of {shape.d_head}; "
            f"vocabulary {shape.vocab:,}; context {shape.context:,}; MLP {shape.d_mlp:,}.")


def lecture_checks(shape: Shape) -> str:
    """The talk's numbers about GPT-3, computed from its shape (Markdown list)."""
    counts = tally(shape)
    everything = tally(replace(shape, count_positions=True, count_biases_and_norms=True))
    per_matrix = shape.d_model * shape.d_head
    full = shape.d_model**2
    return "\n".join([
        f"- total: {sum(counts.values()):,} weights, the talk's tally: the embedding, unembedding, attention and MLP "
        f"matrices. It leaves out the {everything['position embedding']:,} learned position weights and the "
        f"{everything['biases and LayerNorms']:,} biases and LayerNorm weights ({sum(everything.values()):,} in all)",
        f"- attention's share: {attention_share(shape):.1%} (the talk: “about one-third”)",
        f"- one key (or query) matrix of one head: {per_matrix:,} (the talk: “about 1.5 million parameters”)",
        f"- a full d × d value map: {full:,} = {full / per_matrix:.0f}× that (the talk: “almost 100 times as many”); "
        f"hence value = down to {shape.d_head}, then up: 2 × {per_matrix:,}",
        f"- heads in one forward pass: {shape.n_layers} layers × {shape.n_heads} = {shape.n_layers * shape.n_heads:,} "
        f"(the talk: “like 10,000 times for a single pass”)",
    ])
