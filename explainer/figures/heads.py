"""Figures for what heads do: every head scored on modifier → noun pairs, and the running example's Δe decoded."""

from __future__ import annotations

import pandas as pd
import torch

from explainer import attention, forward, heads
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import display_token


def scores_table(scores: heads.HeadScores) -> pd.DataFrame:
    """One row per head, the most adjective-selective first."""
    layers, count = scores.modifier.shape
    rows = [{"layer": l, "head": h, "noun → adjective": float(scores.modifier[l, h]),
             "previous token (random bigrams)": float(scores.previous_token[l, h]),
             "excess": float(scores.excess[l, h])} for l in range(layers) for h in range(count)]
    return pd.DataFrame(rows).sort_values("excess", ascending=False).reset_index(drop=True)


def verdict(example: heads.RunningExample) -> str:
    """What the chosen head does, against the baselines, in words (Markdown)."""
    s, l, h = example.scores, example.layer, example.head
    modifier, previous = float(s.modifier[l, h]), float(s.previous_token[l, h])
    top_previous = max(range(s.modifier.numel()), key=lambda i: float(s.previous_token.flatten()[i]))
    singles_out = modifier > 1.5 * previous and modifier > 3 * s.uniform
    summary = (f"Over {s.pairs} adjective → noun pairs of the validation text, **layer {l}, head {h}** puts on average "
               f"**{modifier:.2f}** of the noun's attention on its adjective, against **{previous:.2f}** on the previous token "
               f"of {s.random_bigrams} random bigrams, and {s.uniform:.3f} for uniform attention over the window.")
    if singles_out:
        return summary + (f" It reads adjectives {modifier / previous:.1f}× as much as it reads an arbitrary previous "
                          "token: it singles them out, as the talk's head does.")
    strongest = divmod(top_previous, s.modifier.shape[1])
    return summary + (" That is about what it gives any previous token: no head of our model singles adjectives out; "
                      f"heads such as layer {strongest[0]}, head {strongest[1]} read the previous token whatever it is, "
                      "and an adjective is the previous token of its noun.")


def delta_table(lm: LanguageModel, steps: attention.AttentionSteps, position: int, top: int = 5) -> pd.DataFrame:
    """The token's vector before (e) and after (e + Δe) this head, decoded two ways: through the final LayerNorm and
    the unembedding (the logit lens: what it predicts next) and by the nearest token embeddings (what it resembles)."""
    e, updated = steps.residual[position], steps.updated[position]
    show = lambda pairs: ", ".join(f"{display_token(t)} {v:.2f}" for t, v in pairs)
    return pd.DataFrame({
        "length": [float(e.norm()), float(steps.delta[position].norm()), float(updated.norm())],
        "predicts next (logit lens)": [show(forward.decode(lm, e, top)), "", show(forward.decode(lm, updated, top))],
        "nearest token embeddings": [show(forward.nearest_tokens(lm, e, top)), show(forward.nearest_tokens(lm, steps.delta[position], top)),
                                     show(forward.nearest_tokens(lm, updated, top))],
    }, index=["e", "Δe (this head)", "e + Δe"])


def arrival(lm: LanguageModel, steps: attention.AttentionSteps, noun: int, adjective: int) -> str:
    """Did the adjective's meaning arrive? Its embedding's cosine with e and with e + Δe (Markdown)."""
    word = lm.model.transformer.wte.weight.detach().cpu()[steps.ids[adjective]]
    before = float(torch.cosine_similarity(steps.residual[noun], word, dim=0))
    after = float(torch.cosine_similarity(steps.updated[noun], word, dim=0))
    moved = float(torch.cosine_similarity(steps.delta[noun], word, dim=0))
    return (f"The cosine between the noun's vector and the embedding of *{steps.tokens[adjective].strip()}* goes from "
            f"**{before:.3f}** (e) to **{after:.3f}** (e + Δe); Δe itself has cosine {moved:.3f} with it.")
