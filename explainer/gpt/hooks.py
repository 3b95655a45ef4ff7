"""Names of what the introspection path records, as TransformerLens names them, and the recorder that keeps them.

    act_name("pattern", 3)   -> "blocks.3.attn.hook_pattern"    [batch, head, query, key]
    act_name("resid_pre", 0) -> "blocks.0.hook_resid_pre"       [batch, token, d_model]
    act_name("embed")        -> "hook_embed"

Concept code asks for a name here instead of typing it, and `run_with_cache(idx, names=...)` keeps only the names
it is given, so a scan over many windows need not hold every layer's [batch, head, T, T] tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

import torch

from explainer.errors import ExplainerError

if TYPE_CHECKING:
    from explainer.gpt.model import GPTConfig

ActivationCache = dict[str, torch.Tensor]
NamesFilter = str | Iterable[str] | Callable[[str], bool] | None

MODEL_HOOKS = {"embed": "hook_embed", "pos_embed": "hook_pos_embed", "ln_final": "ln_final.hook_normalized"}
BLOCK_HOOKS = {  # short name -> where it sits inside blocks.{layer}.
    "resid_pre": "hook_resid_pre", "resid_mid": "hook_resid_mid", "resid_post": "hook_resid_post",
    "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out",
    "q": "attn.hook_q", "k": "attn.hook_k", "v": "attn.hook_v", "z": "attn.hook_z",
    "attn_scores": "attn.hook_attn_scores", "pattern": "attn.hook_pattern",
    "pre": "mlp.hook_pre", "pre_linear": "mlp.hook_pre_linear", "post": "mlp.hook_post",
}


class HookNameError(ExplainerError, KeyError):
    """A cache name that the model does not record."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


def act_name(name: str, layer: int | None = None) -> str:
    """The cache key of a short name, like TransformerLens's get_act_name: ("pattern", 3) -> "blocks.3.attn.hook_pattern"."""
    if name in MODEL_HOOKS:
        if layer is not None:
            raise HookNameError(f"{name!r} is recorded once for the whole model: leave out the layer (got {layer})")
        return MODEL_HOOKS[name]
    if name in BLOCK_HOOKS:
        if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
            raise HookNameError(f"{name!r} is recorded in every block: give a layer, a whole number >= 0 (got {layer!r})")
        return f"blocks.{layer}.{BLOCK_HOOKS[name]}"
    raise HookNameError(f"unknown activation name {name!r}; known: {', '.join([*MODEL_HOOKS, *BLOCK_HOOKS])}")


def recorded_shapes(config: GPTConfig, batch: int = 1, tokens: int = 1) -> dict[str, tuple[int, ...]]:
    """Every cache key the model records for [batch, tokens] token ids, with its shape: the one list of what exists."""
    B, T, C, H, K, D, M = batch, tokens, config.n_embd, config.n_head, config.kv_heads, config.head_size, config.hidden
    shapes = {act_name("embed"): (B, T, C)}
    if config.positions == "learned":
        shapes[act_name("pos_embed")] = (T, C)
    block = {"resid_pre": (B, T, C), "q": (B, T, H, D), "k": (B, T, K, D), "v": (B, T, K, D),  # keys, values: K heads
             "attn_scores": (B, H, T, T), "pattern": (B, H, T, T), "z": (B, T, H, D), "attn_out": (B, T, C),
             "resid_mid": (B, T, C), "pre": (B, T, M), "pre_linear": (B, T, M), "post": (B, T, M), "mlp_out": (B, T, C),
             "resid_post": (B, T, C)}
    if not config.gated:
        del block["pre_linear"]
    for layer in range(config.n_layer):
        shapes.update({act_name(name, layer): shape for name, shape in block.items()})
    shapes[act_name("ln_final")] = (B, T, C)
    return shapes


def names_predicate(names: NamesFilter, known: Iterable[str]) -> Callable[[str], bool]:
    """Which cache keys to keep: None (all), one key, a list of keys (each must be one the model records), or a
    function of the key."""
    if names is None:
        return lambda name: True
    if callable(names):
        return names
    wanted = {names} if isinstance(names, str) else set(names)
    unknown = sorted(wanted - set(known))
    if unknown:
        raise HookNameError(f"this model records no {', '.join(map(repr, unknown))}; ask act_name(...) for a name, e.g. "
                            f"act_name('pattern', 0) -> {act_name('pattern', 0)!r}")
    return wanted.__contains__


class Recorder:
    """Where the introspection path writes its activations: the cache, holding only the names it was asked for."""

    def __init__(self, keep: Callable[[str], bool] = lambda name: True):
        self.cache: ActivationCache = {}
        self.keep = keep

    def __call__(self, name: str, value: torch.Tensor) -> None:
        if self.keep(name):
            self.cache[name] = value.detach()


def record(recorder: Recorder | None, name: str, value: torch.Tensor) -> None:
    if recorder is not None:
        recorder(name, value)
