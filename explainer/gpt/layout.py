"""One place that knows where a model keeps each weight: per-head views like TransformerLens's, and the model's own
norms, MLP nonlinearity, positions and unembedding as functions. Concept code reads weights only from here
(`lm.layout` or `model.layout`), never from `c_attn` or `transformer.h`.

Every matrix acts on row vectors from the right (x @ W), as in TransformerLens. C = d_model, H = query heads,
D = d_head, M = d_mlp, V = the model's vocabulary:
    W_E [V, C]    W_pos [block_size, C], or None with rotary positions    W_U [C, V]
    W_Q[l], W_K[l], W_V[l] [H, C, D]    b_Q[l], b_K[l], b_V[l] [H, D]    W_O[l] [H, D, C]    b_O[l] [C]
    W_in[l] [C, M]    b_in[l] [M]    W_gate[l] [C, M] or None    b_gate[l] [M] or None    W_out[l] [M, C]    b_out[l] [C]
With grouped-query attention, W_K/W_V/b_K/b_V give each query head its shared key/value head (kv_head(head) says
which), as TransformerLens does. Biases the model lacks are zeros. The views share memory with the model and carry
no gradients; only grouped-query keys and values, and missing biases, are new tensors (one layer's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Generic, Iterator, Sequence, TypeVar

import torch
import torch.nn as nn

from explainer.errors import ExplainerError

if TYPE_CHECKING:
    from explainer.gpt.model import GPT

Value = TypeVar("Value")
NORM_PLACES = ("attn", "mlp", "final")


class LayoutError(ExplainerError, IndexError):
    """A layer, head or place that this model does not have."""


class PerLayer(Generic[Value]):
    """Indexable by layer (`layout.W_Q[3]`); each layer's tensor is looked up when asked for."""

    def __init__(self, n_layer: int, get: Callable[[int], Value]):
        self.n_layer, self.get = n_layer, get

    def __getitem__(self, layer: int) -> Value:
        if isinstance(layer, bool) or not isinstance(layer, int) or not -self.n_layer <= layer < self.n_layer:
            raise LayoutError(f"layer must be a whole number 0 … {self.n_layer - 1}, got {layer!r}")
        return self.get(layer % self.n_layer)

    def __len__(self) -> int:
        return self.n_layer

    def __iter__(self) -> Iterator[Value]:
        return (self.get(layer) for layer in range(self.n_layer))


@dataclass(frozen=True)
class NormWeights:
    """One of the model's norms: LayerNorm ((x − mean) / √(var + ε) × γ + β) or RMSNorm (x / √(mean(x²) + ε) × γ)."""

    kind: str  # "layernorm" or "rmsnorm"
    weight: torch.Tensor  # γ [C]
    bias: torch.Tensor  # β [C]: zeros for RMSNorm or a LayerNorm without bias
    eps: float


class Layout:
    """Weights and pieces of one GPT, in TransformerLens's names and shapes."""

    def __init__(self, model: GPT):
        config = model.config
        self.model = model
        self.n_layer, self.n_head, self.n_kv_head = config.n_layer, config.n_head, config.kv_heads
        self.d_model, self.d_head, self.d_mlp, self.d_vocab = config.n_embd, config.head_size, config.hidden, config.vocab_size
        self.group_size = self.n_head // self.n_kv_head  # query heads sharing one key/value head
        self.positions = config.positions  # "learned" (W_pos added to the embeddings) or "rope" (see rotate)
        self.norm = config.norm  # "layernorm" or "rmsnorm"
        self.gated = config.gated  # the MLP multiplies silu(gate) by a linear "in" (SwiGLU)

    # ---------- which heads ----------

    def check_head(self, head: int) -> int:
        if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < self.n_head:
            raise LayoutError(f"head must be a whole number 0 … {self.n_head - 1}, got {head!r}")
        return head

    def kv_head(self, head: int) -> int:
        """The key/value head that query head `head` reads (itself without grouped-query attention)."""
        return self.check_head(head) // self.group_size

    def sharing(self, kv_head: int) -> list[int]:
        """The query heads that share key/value head `kv_head`."""
        if not 0 <= kv_head < self.n_kv_head:
            raise LayoutError(f"key/value head must be 0 … {self.n_kv_head - 1}, got {kv_head!r}")
        return list(range(kv_head * self.group_size, (kv_head + 1) * self.group_size))

    # ---------- weights ----------

    def block(self, layer: int) -> nn.Module:
        return self.model.transformer.h[layer]

    @property
    def W_E(self) -> torch.Tensor:
        return self.model.transformer.wte.weight.detach()  # [V, C]

    @property
    def W_pos(self) -> torch.Tensor | None:
        return self.model.transformer.wpe.weight.detach() if self.positions == "learned" else None  # [block_size, C]

    @property
    def W_U(self) -> torch.Tensor:
        return self.model.lm_head.weight.detach().T  # [C, V]

    def attention_part(self, layer: int, part: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries (0), keys (1) or values (2) of a layer: weights [H, C, D] and biases [H, D], one per query head."""
        attn = self.block(layer).attn
        start = sum(attn.widths[:part])
        rows = slice(start, start + attn.widths[part])
        weight = attn.c_attn.weight.detach()[rows].view(-1, self.d_head, self.d_model).transpose(1, 2)  # [heads, C, D]
        bias = attn.c_attn.bias
        bias = torch.zeros(weight.shape[0], self.d_head, device=weight.device) if bias is None else bias.detach()[rows].view(-1, self.d_head)
        if part and self.group_size > 1:  # one copy of each shared key/value head per query head that reads it
            weight, bias = weight.repeat_interleave(self.group_size, 0), bias.repeat_interleave(self.group_size, 0)
        return weight, bias

    @property
    def W_Q(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.attention_part(layer, 0)[0])

    @property
    def W_K(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.attention_part(layer, 1)[0])

    @property
    def W_V(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.attention_part(layer, 2)[0])

    @property
    def b_Q(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.attention_part(layer, 0)[1])

    @property
    def b_K(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.attention_part(layer, 1)[1])

    @property
    def b_V(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.attention_part(layer, 2)[1])

    @property
    def W_O(self) -> PerLayer[torch.Tensor]:
        def get(layer: int) -> torch.Tensor:
            weight = self.block(layer).attn.c_proj.weight.detach()  # [C, H·D]: columns grouped by head
            return weight.view(self.d_model, self.n_head, self.d_head).permute(1, 2, 0)  # [H, D, C]
        return PerLayer(self.n_layer, get)

    @property
    def b_O(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: bias_or_zeros(self.block(layer).attn.c_proj))

    @property
    def W_in(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.block(layer).mlp.c_fc.weight.detach().T)  # [C, M]

    @property
    def b_in(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: bias_or_zeros(self.block(layer).mlp.c_fc))

    @property
    def W_gate(self) -> PerLayer[torch.Tensor | None]:
        def get(layer: int) -> torch.Tensor | None:
            gate = self.block(layer).mlp.c_gate
            return None if gate is None else gate.weight.detach().T  # [C, M]
        return PerLayer(self.n_layer, get)

    @property
    def b_gate(self) -> PerLayer[torch.Tensor | None]:
        def get(layer: int) -> torch.Tensor | None:
            gate = self.block(layer).mlp.c_gate
            return None if gate is None else bias_or_zeros(gate)
        return PerLayer(self.n_layer, get)

    @property
    def W_out(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: self.block(layer).mlp.c_proj.weight.detach().T)  # [M, C]

    @property
    def b_out(self) -> PerLayer[torch.Tensor]:
        return PerLayer(self.n_layer, lambda layer: bias_or_zeros(self.block(layer).mlp.c_proj))

    # ---------- the model's own pieces, as functions (any device in, the same device out) ----------

    def norm_module(self, where: str, layer: int | None = None) -> nn.Module:
        if where == "final" and layer is None:
            return self.model.transformer.ln_f
        if where in ("attn", "mlp") and isinstance(layer, int) and 0 <= layer < self.n_layer:
            return getattr(self.block(layer), "ln_1" if where == "attn" else "ln_2")
        raise LayoutError(f"a norm is 'attn' or 'mlp' with a layer 0 … {self.n_layer - 1}, or 'final' without one; "
                          f"got {where!r}, {layer!r}")

    def norm_weights(self, where: str, layer: int | None = None) -> NormWeights:
        """The norm before a layer's attention ('attn'), before its MLP ('mlp') or after the last block ('final')."""
        module = self.norm_module(where, layer)
        weight = module.weight.detach()
        bias = getattr(module, "bias", None)
        return NormWeights(self.norm, weight, torch.zeros_like(weight) if bias is None else bias.detach(), module.eps)

    def attn_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """What layer `layer`'s attention reads: its norm applied to the residual stream x [..., C]."""
        return self.apply(self.norm_module("attn", layer), x)

    def mlp_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        return self.apply(self.norm_module("mlp", layer), x)

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.apply(self.norm_module("final"), x)

    def unembed(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [..., V] of x [..., C] (already normalised): x @ W_U, over the model's whole (maybe padded) vocabulary."""
        return self.apply(self.model.lm_head, x)

    def mlp_activation(self, pre: torch.Tensor, pre_linear: torch.Tensor | None = None) -> torch.Tensor:
        """Neuron activations (mlp.hook_post) from mlp.hook_pre (gated: and mlp.hook_pre_linear)."""
        mlp = self.block(0).mlp
        with torch.no_grad():
            return mlp.nonlinearity(pre, pre_linear)

    def rotate(self, x: torch.Tensor, positions: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Queries or keys x [..., T, D] as the model uses them at `positions` [T]: turned by RoPE, or unchanged with
        learned positions (which enter once, as W_pos added to the embeddings)."""
        if self.model.rotary is None:
            return x
        positions = torch.as_tensor(positions, device=self.W_E.device)
        with torch.no_grad():
            return self.model.rotary.rotate(x.to(positions.device, self.W_E.dtype), positions).to(x.device, x.dtype)

    def apply(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """module(x) on the model's device and dtype, returned on x's."""
        with torch.no_grad():
            return module(x.to(self.W_E.device, self.W_E.dtype)).to(x.device, x.dtype)


def bias_or_zeros(linear: nn.Linear) -> torch.Tensor:
    if linear.bias is None:
        return torch.zeros(linear.out_features, device=linear.weight.device)
    return linear.bias.detach()
