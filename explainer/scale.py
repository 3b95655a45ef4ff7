"""Counting weights and costs from a config: where a transformer's parameters live, and what attention costs."""

from __future__ import annotations

from dataclasses import dataclass

from explainer.errors import ExplainerError
from explainer.model import GPTConfig


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

    def __post_init__(self):
        for field_name in ("d_model", "n_layers", "n_heads", "d_head", "vocab", "context", "d_mlp"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or value < 1:
                raise ExplainerError(f"{field_name} must be a whole number >= 1, got {value!r}")


GPT3 = Shape("GPT-3 (175B)", d_model=12_288, n_layers=96, n_heads=96, d_head=128, vocab=50_257, context=2_048, d_mlp=49_152)
GPT2_SMALL = Shape("GPT-2 small", d_model=768, n_layers=12, n_heads=12, d_head=64, vocab=50_257, context=1_024, d_mlp=3_072,
                   tied_embeddings=True, count_positions=True, count_biases_and_norms=True)


def shape_of(config: GPTConfig, name: str = "our model") -> Shape:
    """Our GPT's shape, counting everything the module holds (so the tally equals sum(p.numel()))."""
    return Shape(name, config.n_embd, config.n_layer, config.n_head, config.head_size, config.vocab_size,
                 config.block_size, 4 * config.n_embd, tied_embeddings=True, count_positions=True,
                 count_biases_and_norms=config.bias)


def tally(shape: Shape) -> dict[str, int]:
    """Weights by kind. Each head's key, query and value maps are d_model × d_head; 'output' is each head's
    d_head × d_model map back up, so value + output is the low-rank 'value down, then up' of the lecture."""
    d, L, H, k = shape.d_model, shape.n_layers, shape.n_heads, shape.d_head
    counts = {
        "embedding": shape.vocab * d,
        "query": L * H * d * k,
        "key": L * H * d * k,
        "value": L * H * d * k,
        "output": L * H * k * d,
        "MLP up": L * d * shape.d_mlp,
        "MLP down": L * shape.d_mlp * d,
        "unembedding": 0 if shape.tied_embeddings else shape.vocab * d,
    }
    if shape.count_positions:
        counts["position embedding"] = shape.context * d
    if shape.count_biases_and_norms:
        attention_biases = L * (3 * H * k + d)
        mlp_biases = L * (shape.d_mlp + d)
        norms = (2 * L + 1) * 2 * d
        counts["biases and LayerNorms"] = attention_biases + mlp_biases + norms
    return counts


def attention_share(shape: Shape) -> float:
    counts = tally(shape)
    return sum(counts[k] for k in ("query", "key", "value", "output")) / sum(counts.values())


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


def kv_cache_bytes(shape: Shape, tokens: int, kv_heads: int | None = None, bytes_per_number: int = 2) -> int:
    """Memory of the KV cache for `tokens` tokens: keys and values of every layer. kv_heads < n_heads is
    grouped-query attention (1 = multi-query)."""
    kv_heads = shape.n_heads if kv_heads is None else kv_heads
    if not 1 <= kv_heads <= shape.n_heads or shape.n_heads % kv_heads:
        raise ExplainerError(f"kv_heads must divide n_heads = {shape.n_heads}, got {kv_heads}")
    return 2 * shape.n_layers * kv_heads * shape.d_head * tokens * bytes_per_number
