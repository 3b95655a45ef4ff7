"""Autoregressive generation: draw a token, append it, run again. With a KV cache, and a step-by-step stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from explainer.gpt import sampling
from explainer.errors import SamplingError
from explainer.gpt.hooks import ActivationCache, Recorder, act_name
from explainer.gpt.model import GPT, KVCache


@dataclass
class GenerationStep:
    """One generated token, the distribution it was drawn from, and what it attended to once fed back."""

    token_id: int
    probs: torch.Tensor  # [V] (the tokenizer's tokens): temperature / top-k / top-p already applied
    attention: torch.Tensor  # [layer, head, key]: the new token's attention over the window it sees
    window: list[int]  # the token ids that attention's keys refer to (ends with token_id)


def attention_of_last_token(cache: ActivationCache, n_layer: int) -> torch.Tensor:
    return torch.stack([cache[act_name("pattern", layer)][0, :, -1, :] for layer in range(n_layer)])


def is_pattern(name: str) -> bool:
    return name.endswith(".attn.hook_pattern")


class Decoder:
    """Runs the model one token at a time, reusing keys/values unless the window is full or caching is off."""

    def __init__(self, model: GPT, use_kv_cache: bool, record: bool):
        self.model, self.use_kv_cache, self.record = model, use_kv_cache, record
        self.past: KVCache | None = None
        self.block_size = model.config.block_size

    def feed(self, ids: list[int], new: int | None) -> tuple[torch.Tensor, ActivationCache | None]:
        """Last-position logits after the sequence `ids`, of which only `new` (if given) was not fed yet."""
        device = next(self.model.parameters()).device
        recorder = Recorder(is_pattern) if self.record else None
        incremental = self.use_kv_cache and new is not None and self.past is not None
        if incremental and self.past[0][0].shape[2] + 1 <= self.block_size:
            step = torch.tensor([[new]], device=device)
            logits, self.past = self.model.forward_with_past(step, self.past, recorder)
        else:  # first call, cache off, or window full: recompute over the last block_size tokens
            window = torch.tensor([ids[-self.block_size:]], device=device)
            logits, past = self.model.forward_with_past(window, None, recorder)
            self.past = past if self.use_kv_cache else None
        return logits[0, -1], recorder.cache if recorder else None


@torch.no_grad()
def stream(
    model: GPT,
    prompt_ids: list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    use_kv_cache: bool = True,
    record_attention: bool = True,
    vocab_size: int | None = None,
) -> Iterator[GenerationStep]:
    """Yield each new token with its distribution and (if recorded) its attention to the tokens before it.
    `vocab_size`: draw only from the first vocab_size tokens (a model whose vocabulary is padded past its tokenizer's)."""
    sampling.check_temperature(temperature)
    if not prompt_ids:
        raise SamplingError("the prompt is empty: give at least one token to continue from")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise SamplingError(f"max_new_tokens must be a whole number >= 0, got {max_new_tokens!r}")
    model.eval()
    generator = sampling.make_generator(seed, next(model.parameters()).device)
    decoder = Decoder(model, use_kv_cache, record_attention)
    ids = list(prompt_ids)
    logits, _ = decoder.feed(ids, None)
    for _ in range(max_new_tokens):
        probs = sampling.next_token_distribution(logits[:vocab_size].float(), temperature, top_k, top_p)
        token = int(torch.multinomial(probs, 1, generator=generator))
        ids.append(token)
        logits, cache = decoder.feed(ids, token)
        attention = attention_of_last_token(cache, model.config.n_layer).cpu() if cache else torch.empty(0)
        yield GenerationStep(token, probs.cpu(), attention, ids[-model.config.block_size:])


def generate_ids(model: GPT, prompt_ids: list[int], max_new_tokens: int, **options) -> list[int]:
    """The prompt followed by `max_new_tokens` sampled tokens (fast path, no attention recorded)."""
    steps = stream(model, prompt_ids, max_new_tokens, record_attention=False, **options)
    return list(prompt_ids) + [step.token_id for step in steps]
