"""Attention for one head, one step at a time, and attention patterns of the trained model for any prompt.

Convention: grids are [query, key] (rows = the token being updated, columns = the tokens it reads), as in
bertviz, CircuitsVis and TransformerLens. The 3Blue1Brown layout is the transpose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable
from functools import lru_cache

import torch

from explainer import sampling
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.hooks import act_name
from explainer.errors import ExplainerError
from explainer.verdict import Verdict

MASK_VARIANTS = {
    "minus_inf": "-inf before the softmax (what models do): each row still sums to 1",
    "zero_after": "softmax, then zero the future: rows no longer sum to 1",
    "renormalise": "softmax, zero the future, divide by the row sum: same result as -inf, more work",
    "none": "no mask (an encoder): every token reads every other, future included",
}


def causal_mask(n: int) -> torch.Tensor:
    """[n, n] booleans: True where query i may read key j (j <= i)."""
    return torch.ones(n, n, dtype=torch.bool).tril()


def project(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x [n, C] @ weight [C, d] + bias: queries, keys or values of one head."""
    return x @ weight + (0 if bias is None else bias)


def score_grid(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Every query with every key: [n_query, n_key] dot products QKᵀ."""
    return q @ k.T


def scale_scores(scores: torch.Tensor, d_k: int) -> torch.Tensor:
    """Divide by √d_k: dot products of random unit-variance q and k then have variance 1 whatever the head size."""
    return scores / math.sqrt(d_k)


def masked_softmax(scores: torch.Tensor, variant: str = "minus_inf", temperature: float = 1.0) -> torch.Tensor:
    """Softmax along each row (one query) with the causal mask applied as `variant` (see MASK_VARIANTS)."""
    if variant not in MASK_VARIANTS:
        raise ExplainerError(f"mask variant must be one of {', '.join(MASK_VARIANTS)}, got {variant!r}")
    allowed = causal_mask(scores.shape[-1])[-scores.shape[-2]:]
    if variant == "none":
        return sampling.softmax(scores, temperature)
    if variant == "minus_inf":
        return sampling.softmax(scores.masked_fill(~allowed, float("-inf")), temperature)
    pattern = sampling.softmax(scores, temperature).masked_fill(~allowed, 0.0)
    return pattern / pattern.sum(-1, keepdim=True) if variant == "renormalise" else pattern


def weighted_values(pattern: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Each query's weighted sum of the values: [n_query, d_head]."""
    return pattern @ v


@dataclass
class HeadWeights:
    """One head's slices of the layer's matrices, as x @ W (x is a row vector)."""

    W_Q: torch.Tensor  # [C, d]
    W_K: torch.Tensor
    W_V: torch.Tensor
    b_Q: torch.Tensor  # [d]
    b_K: torch.Tensor
    b_V: torch.Tensor
    W_O: torch.Tensor  # [d, C]: this head's rows of the output projection


@lru_cache(maxsize=16)
def cached_run(lm: LanguageModel, prompt: str):
    """lm.run_with_cache(prompt), computed once per (model, prompt): explorers re-read it on every slider move.
    The cached tensors are shared, so callers must not change them in place."""
    return lm.run_with_cache(prompt)


@lru_cache(maxsize=64)
def head_weights(lm: LanguageModel, layer: int, head: int) -> HeadWeights:
    """One head's matrices from the model's layout (keys and values of a grouped-query model: the shared head's)."""
    check_layer_head(lm, layer, head)
    layout = lm.layout
    return HeadWeights(*(view[layer][head].cpu() for view in (layout.W_Q, layout.W_K, layout.W_V, layout.b_Q, layout.b_K,
                                                                  layout.b_V, layout.W_O)))


def check_layer_head(lm: LanguageModel, layer: int, head: int) -> None:
    config = lm.model.config
    if not 0 <= layer < config.n_layer:
        raise ExplainerError(f"layer must be 0 … {config.n_layer - 1}, got {layer}")
    if not 0 <= head < config.n_head:
        raise ExplainerError(f"head must be 0 … {config.n_head - 1}, got {head}")


@dataclass
class AttentionSteps:
    """Every intermediate array of one head on one prompt (all [tokens, …], rows = queries)."""

    tokens: list[str]
    ids: list[int]
    residual: torch.Tensor  # e: the residual stream entering the block [n, C]
    x: torch.Tensor  # LayerNorm(e), what the head reads [n, C]
    q: torch.Tensor  # [n, d], turned by the positions in a model with rotary positions
    k: torch.Tensor
    v: torch.Tensor
    scores: torch.Tensor  # QKᵀ [n, n]
    scaled: torch.Tensor  # ÷ √d (or unchanged if scaling is off)
    pattern: torch.Tensor  # masked softmax [n, n]
    z: torch.Tensor  # pattern @ V [n, d]
    delta: torch.Tensor  # Δe = z @ W_O: this head's proposed change to each vector [n, C]
    updated: torch.Tensor  # e + Δe


def head_steps(tokens: list[str], ids: list[int], residual: torch.Tensor, x: torch.Tensor, weights: HeadWeights,
               temperature: float = 1.0, scale: bool = True, mask: str = "minus_inf",
               rotate: Callable[[torch.Tensor], torch.Tensor] = lambda qk: qk) -> AttentionSteps:
    """One head, every step: x [n, C] is what the head reads (the normalised residual e [n, C]); `rotate` turns queries
    and keys by their positions in a model with rotary positions. The same for a trained head and a designed one."""
    q, k, v = (project(x, W, b) for W, b in ((weights.W_Q, weights.b_Q), (weights.W_K, weights.b_K), (weights.W_V, weights.b_V)))
    q, k = rotate(q), rotate(k)
    scores = score_grid(q, k)
    scaled = scale_scores(scores, q.shape[-1]) if scale else scores
    pattern = masked_softmax(scaled, mask, temperature)
    z = weighted_values(pattern, v)
    delta = z @ weights.W_O
    return AttentionSteps(tokens, ids, residual, x, q, k, v, scores, scaled, pattern, z, delta, residual + delta)


def attention_steps(
    lm: LanguageModel, prompt: str, layer: int = 0, head: int = 0,
    temperature: float = 1.0, scale: bool = True, mask: str = "minus_inf",
) -> AttentionSteps:
    """Recompute one head of the trained model step by step from the residual stream in its cache."""
    weights = head_weights(lm, layer, head)
    tokens, _, cache = cached_run(lm, prompt)
    residual = cache[act_name("resid_pre", layer)][0]
    positions = torch.arange(len(tokens))
    return head_steps(tokens, lm.encode(prompt), residual, lm.layout.attn_norm(layer, residual), weights, temperature, scale,
                      mask, lambda qk: lm.layout.rotate(qk, positions))


@dataclass
class PromptSteps:
    """What every head's steps need once the scores are known, for all layers and heads of one prompt: the raw scores,
    and the dot products that give Δe's length and direction for any pattern p (any scale, mask or temperature):
    |Δe_q|² = p_q · value_gram · p_q and e_q · Δe_q = p_q · reads_q, since Δe_q = Σ_k p_qk (v W_O)_k."""

    tokens: list[str]
    d_k: int
    scores: torch.Tensor  # QKᵀ [layer, head, query, key], not scaled, not masked
    residual_norms: torch.Tensor  # |e| [layer, query]: the residual stream entering each block
    value_gram: torch.Tensor  # [layer, head, key, key]: (v W_O)_i · (v W_O)_j
    reads: torch.Tensor  # [layer, head, query, key]: e_q · (v W_O)_k


def prompt_steps(lm: LanguageModel, prompt: str) -> PromptSteps:
    """Every head of the trained model on `prompt`, reduced to PromptSteps: head_steps' projections for all of a layer's
    heads at once ([head, n, d]), from the residual stream in the cache."""
    layout, layers = lm.layout, range(lm.model.config.n_layer)
    tokens, _, cache = cached_run(lm, prompt)
    positions = torch.arange(len(tokens))
    scores, grams, reads, norms = [], [], [], []
    for layer in layers:
        residual = cache[act_name("resid_pre", layer)][0]  # [n, C]
        x = layout.attn_norm(layer, residual)
        q, k, v = (project(x, W[layer].cpu(), b[layer].cpu()[:, None])  # [head, n, d]
                   for W, b in ((layout.W_Q, layout.b_Q), (layout.W_K, layout.b_K), (layout.W_V, layout.b_V)))
        q, k = layout.rotate(q, positions), layout.rotate(k, positions)
        written = v @ layout.W_O[layer].cpu()  # [head, key, C]: what each key adds, at weight 1
        scores.append(q @ k.transpose(-1, -2))
        grams.append(written @ written.transpose(-1, -2))
        reads.append(residual @ written.transpose(-1, -2))
        norms.append(residual.norm(dim=-1))
    return PromptSteps(tokens, q.shape[-1], torch.stack(scores), torch.stack(norms), torch.stack(grams), torch.stack(reads))


def score_spread(steps: AttentionSteps) -> tuple[float, float]:
    """Standard deviation of the raw and of the scaled scores, over the cells the causal mask allows."""
    allowed = causal_mask(len(steps.tokens))
    return float(steps.scores[allowed].std()), float(steps.scaled[allowed].std())


@dataclass
class PromptAttention:
    """The trained model's attention on one prompt: scaled scores and patterns for every layer and head."""

    tokens: list[str]
    scores: torch.Tensor  # [layer, head, query, key], scaled, before the mask
    patterns: torch.Tensor  # [layer, head, query, key] at temperature 1

    def pattern(self, layer: int, head: int, temperature: float = 1.0) -> torch.Tensor:
        """One head's pattern; temperature re-applies the softmax to the cached scores."""
        if temperature == 1.0:
            return self.patterns[layer, head]
        return masked_softmax(self.scores[layer, head], "minus_inf", temperature)

    def mean_over_heads(self) -> torch.Tensor:
        return self.patterns.mean(dim=1)  # [layer, query, key]

    def entropy(self) -> torch.Tensor:
        """Mean attention entropy (bits) of each head over its queries: [layer, head]."""
        return sampling.entropy(self.patterns, dim=-1).mean(-1)

    def previous_token_score(self) -> torch.Tensor:
        """Mean weight each head puts on the token just before the query (queries 1 …): [layer, head]."""
        return torch.diagonal(self.patterns, offset=-1, dim1=-2, dim2=-1).mean(-1)

    def first_token_score(self) -> torch.Tensor:
        """Mean weight each head puts on the first token (queries 1 …): [layer, head]."""
        return self.patterns[..., 1:, 0].mean(-1)

    def self_score(self) -> torch.Tensor:
        """Mean weight each head puts on the query's own token: [layer, head]."""
        return torch.diagonal(self.patterns, dim1=-2, dim2=-1)[..., 1:].mean(-1)


PREVIOUS_TOKEN, FIRST_TOKEN, SPREAD = 2.0, 0.5, 0.7  # × uniform's previous-token weight; weight; × uniform's entropy


def head_kinds(found: PromptAttention) -> dict[str, list[tuple[int, int]]]:
    """Heads sorted by what their rows do on this prompt, against uniform causal attention as the control: reading the
    previous token (PREVIOUS_TOKEN × what uniform gives it), resting on the first token (FIRST_TOKEN of the weight),
    spreading out (entropy at least SPREAD × uniform's). A head can be in several groups or none."""
    n = len(found.tokens)
    uniform_entropy = sum(math.log2(i + 1) for i in range(n)) / n
    layers, count = found.patterns.shape[:2]
    tests = {"previous token": found.previous_token_score() >= PREVIOUS_TOKEN * uniform_previous_token_weight(n),
             "first token": found.first_token_score() >= FIRST_TOKEN,
             "spread out": found.entropy() >= SPREAD * uniform_entropy}
    return {kind: [(l, h) for l in range(layers) for h in range(count) if bool(passed[l, h])] for kind, passed in tests.items()}


def head_kinds_verdict(found: PromptAttention) -> Verdict:
    """How many heads do what on this prompt (see head_kinds)."""
    kinds = head_kinds(found)
    total = found.patterns.shape[0] * found.patterns.shape[1]
    named = lambda heads: ", ".join(f"L{l}·H{h}" for l, h in heads[:4]) + (" …" if len(heads) > 4 else "")
    doing = {"previous token": "read the previous token", "first token": "rest on the first token", "spread out": "spread out"}
    parts = [f"**{len(heads)}** {doing[kind]}" + (f" ({named(heads)})" if heads else "") for kind, heads in kinds.items()]
    holds = sum(bool(heads) for heads in kinds.values()) >= 2
    return Verdict(holds, "the heads do different things",
                   f"Of the {total} heads (L = layer, H = head), on this line: " + "; ".join(parts) + ". Against uniform attention: "
                   f"a previous-token head gives the token before at least {PREVIOUS_TOKEN:g}× what uniform attention "
                   f"would; a first-token head puts at least {FIRST_TOKEN:.0%} on the first token; a spread-out head's rows "
                   f"have at least {SPREAD:.0%} of uniform attention's entropy.")


def training_verdict(patterns: dict[int, PromptAttention], layer: int, head: int) -> Verdict:
    """How one head's weight on the previous token, on one prompt, changed over the saved training steps, against
    uniform attention on the same prompt."""
    steps = sorted(patterns)
    n = len(patterns[steps[0]].tokens)
    uniform = uniform_previous_token_weight(n)
    weights = [float(patterns[s].previous_token_score()[layer, head]) for s in steps]
    trail = ", ".join(f"step {s:,}: {w:.2f}" for s, w in zip(steps, weights))
    holds = weights[-1] >= PREVIOUS_TOKEN * uniform and weights[0] < PREVIOUS_TOKEN * uniform
    return Verdict(holds, "the head's previous-token reading formed during training",
                   f"Layer {layer}, head {head}, mean weight on the previous token on this line ({trail}), against "
                   f"{uniform:.2f} for uniform attention: "
                   + ("it formed during training." if holds else
                      f"it does not go from below to above {PREVIOUS_TOKEN:g}× uniform over these steps."))


def uniform_previous_token_weight(n: int) -> float:
    """The mean weight uniform causal attention puts on the previous token, over queries 1 … n − 1: mean of 1/(i + 1)."""
    return sum(1 / (i + 1) for i in range(1, n)) / (n - 1)


def prompt_attention(lm: LanguageModel, prompt: str) -> PromptAttention:
    """All layers' and heads' attention for `prompt` (cropped to the context window with a warning)."""
    tokens, _, cache = lm.run_with_cache(prompt, names=lambda name: name.endswith(("hook_attn_scores", "hook_pattern")))
    layers = range(lm.model.config.n_layer)
    scores = torch.stack([cache[act_name("attn_scores", l)][0] for l in layers])
    patterns = torch.stack([cache[act_name("pattern", l)][0] for l in layers])
    return PromptAttention(tokens, scores, patterns)


@lru_cache(maxsize=32)
def cached_prompt_attention(lm: LanguageModel, prompt: str) -> PromptAttention:
    """prompt_attention, computed once per (model, prompt) so sliders only re-draw."""
    return prompt_attention(lm, prompt)


@dataclass(frozen=True)
class CausalityCheck:
    earlier_change: float  # largest change of any logit before the last position
    last_change: float  # largest change of a logit at the last position


def causality_check(lm: LanguageModel, prompt: str) -> CausalityCheck:
    """Change the prompt's last token and measure how the logits change at earlier positions (0: the mask holds)."""
    ids = lm.encode(prompt)
    changed = ids[:-1] + [(ids[-1] + 1) % lm.vocab_size]
    with torch.no_grad():
        a, _ = lm.model(torch.tensor([ids], device=lm.device))
        b, _ = lm.model(torch.tensor([changed], device=lm.device))
    return CausalityCheck(float((a[0, :-1] - b[0, :-1]).abs().max()), float((a[0, -1] - b[0, -1]).abs().max()))


def mask_variants(scaled: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same scores through every way of masking (see MASK_VARIANTS)."""
    return {name: masked_softmax(scaled, name) for name in MASK_VARIANTS}


# ---------- attention as a soft lookup, and the QK circuit ----------

def lookup_weights(steps: AttentionSteps, position: int, temperatures: tuple[float, ...]) -> dict[float, torch.Tensor]:
    """One query's weights over the keys at several temperatures: a soft lookup that a low temperature turns into a
    dictionary's exact one (all weight on the best-matching key). {temperature: [n]}"""
    return {t: masked_softmax(steps.scaled, "minus_inf", t)[position] for t in temperatures}


@dataclass
class QKCircuit:
    """One head's query and key maps as one C × C matrix W_QK = W_Q W_Kᵀ, and the scores it gives."""

    layer: int
    head: int
    W_QK: torch.Tensor  # [C, C]
    rank: int  # measured
    d_k: int
    scores: torch.Tensor  # q · k as the head computes them [n, n] (before ÷ √d_k and the mask)
    bilinear: torch.Tensor  # x W_QK xᵀ + the bias terms [n, n]
    rotary: bool  # RoPE turns q and k by their positions: one W_QK gives the scores only where the turns cancel
    largest_difference: float  # between the two, where the bilinear form applies (every cell; with RoPE, the diagonal)
    elsewhere_difference: float  # with RoPE, the largest difference off the diagonal (0 without RoPE)


def qk_circuit(lm: LanguageModel, prompt: str, layer: int, head: int) -> QKCircuit:
    """The head's scores as a bilinear form of the normalised vectors x [n, C]: (x W_Q + b_Q)(x W_K + b_K)ᵀ =
    x W_QK xᵀ + (x W_Q b_K) + (x W_K b_Q)ᵀ + b_Q · b_K."""
    w = head_weights(lm, layer, head)
    steps = attention_steps(lm, prompt, layer, head)
    x = steps.x.float()
    W_QK = w.W_Q.float() @ w.W_K.float().T
    bilinear = (x @ W_QK @ x.T + (x @ w.W_Q.float() @ w.b_K.float())[:, None] + (x @ w.W_K.float() @ w.b_Q.float())[None, :]
                + w.b_Q.float() @ w.b_K.float())
    difference = (bilinear - steps.scores.float()).abs().masked_fill(~causal_mask(len(x)), 0.0)
    rotary = lm.layout.positions == "rope"
    diagonal = torch.eye(len(x), dtype=torch.bool)
    applies = diagonal if rotary else torch.ones_like(diagonal)
    rank = int(torch.linalg.matrix_rank(w.W_Q.double() @ w.W_K.double().T))
    return QKCircuit(layer, head, W_QK, rank, w.W_Q.shape[1], steps.scores,
                     bilinear, rotary, float(difference[applies].max()), float(difference[~applies].max()) if rotary else 0.0)


SAME_SCORES = 1e-3  # relative to the largest score: "the same scores"


def qk_verdict(found: QKCircuit) -> Verdict:
    """Is W_Q W_Kᵀ of rank at most d_k, and does it give the head's scores (where it can)?"""
    C = found.W_QK.shape[0]
    scale = float(found.scores.abs().max()) or 1.0
    same = found.largest_difference <= SAME_SCORES * scale
    holds = found.rank <= found.d_k and same
    where = ("on the diagonal (a token with itself, where RoPE's two turns cancel)" if found.rotary else "in every cell")
    text = (f"Layer {found.layer}, head {found.head}: W_Q W_Kᵀ is a {C} × {C} matrix of measured rank **{found.rank}** "
            f"(d_k = {found.d_k}), and x W_QK xᵀ plus the bias terms gives the head's scores {where} to within "
            f"**{found.largest_difference:.1e}** (scores up to {scale:.1f}). ")
    if found.rotary:
        text += (f"Off the diagonal it misses by up to {found.elsewhere_difference:.2f}: with RoPE the query and key are "
                 "turned by their positions, so the matrix between them is W_Q R W_Kᵀ with a rotation R for each distance. ")
    text += ("So the query and key maps are one low-rank bilinear form: storing them apart, C × d_k each, is that form "
             "factored." if holds else "So here the bilinear form does not reproduce the scores, or its rank exceeds d_k.")
    return Verdict(holds, "W_Q W_Kᵀ is one matrix of rank ≤ d_k that gives the scores", text)
