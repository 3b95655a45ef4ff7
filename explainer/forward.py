"""The whole forward pass on one prompt, stage by stage, and the training objective, from the trained model."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explainer.gpt import data
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.hooks import act_name
from explainer.gpt.tokenizer import CharTokenizer
from explainer.style import display_token
from explainer.verdict import Verdict
from explainer.vocabulary import TopTokens, top_tokens


@dataclass
class LensRow:
    stage: str  # "embedding", "after block 0", …
    top_tokens: list[str]
    top_probs: list[float]
    norm: float  # length of the last token's residual vector
    left_out: int  # under-trained tokens that ranked among the top and were left out


def decode(lm: LanguageModel, vector: torch.Tensor, top: int = 5) -> TopTokens:
    """The logit lens on one residual vector [C]: the final LayerNorm, the unembedding, softmax; the top tokens, the
    under-trained ones left out (see explainer.vocabulary)."""
    probs = torch.softmax(lm.logits_from_residual(vector).float(), -1).cpu()
    return top_tokens(lm, probs, top)


def nearest_tokens(lm: LanguageModel, vector: torch.Tensor, top: int = 5) -> TopTokens:
    """The tokens whose embeddings point most nearly the same way as `vector` [C] (cosine similarity), the
    under-trained ones left out."""
    embeddings = lm.layout.W_E.cpu()[:lm.vocab_size]
    return top_tokens(lm, torch.nn.functional.cosine_similarity(embeddings, vector.cpu()[None, :], dim=1), top)


def split_words(lm: LanguageModel, text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The words of `text`, and those the model's tokenizer splits into pieces (word → its pieces)."""
    words = re.findall(r"[A-Za-z']+", text)
    pieces = {}
    for word in words:
        tokens = lm.tokens(lm.tokenizer.encode(f" {word}"))
        if len(tokens) > 1:
            pieces[word] = tokens
    return words, pieces


def logit_lens(lm: LanguageModel, prompt: str, top: int = 5) -> list[LensRow]:
    """Decode the last token's residual stream after each stage through the final LayerNorm and the unembedding."""
    layers = range(lm.model.config.n_layer)
    names = [act_name("resid_pre", 0)] + [act_name("resid_post", l) for l in layers]
    _, _, cache = lm.run_with_cache(prompt, names)
    stages = [("embedding" + (" + position" if lm.layout.W_pos is not None else ""), cache[names[0]])]
    stages += [(f"after block {l}", cache[act_name("resid_post", l)]) for l in layers]
    rows = []
    for name, residual in stages:
        found = decode(lm, residual[0, -1], top)
        rows.append(LensRow(name, [t for t, _ in found], [p for _, p in found], float(residual[0, -1].norm()), found.left_out))
    return rows


@dataclass
class LensStart:
    """Does the first stage of the logit lens decode to its own token?"""

    token: str
    rank: int  # the token's own rank among all tokens at the embedding stage (1 = the top)
    vocabulary: int
    self_share: float  # the control: share of other tokens, put in its place, that decode to themselves
    sampled: int


@torch.no_grad()
def lens_start(lm: LanguageModel, prompt: str, sample: int = 1000, seed: int = 0) -> LensStart:
    """The last token's own rank in the lens right after the embedding, and, as control, how many of `sample` tokens
    drawn at random decode to themselves when put at the same position."""
    ids = lm.encode(prompt)
    position = len(ids) - 1
    W_E, W_pos = lm.layout.W_E, lm.layout.W_pos
    place = W_pos[position] if W_pos is not None else 0  # rotary positions enter in attention, not in the stream
    vocabulary = lm.vocab_size

    def logits(token_ids: torch.Tensor) -> torch.Tensor:  # [n, V]
        return lm.logits_from_residual(W_E[token_ids.to(W_E.device)] + place).float().cpu()

    own = logits(torch.tensor([ids[-1]]))[0]
    drawn = torch.randperm(vocabulary, generator=torch.Generator().manual_seed(seed))[:sample]
    itself = torch.cat([logits(chunk).argmax(-1) == chunk for chunk in drawn.split(256)])
    return LensStart(lm.tokens(ids[-1:])[0], int((own > own[ids[-1]]).sum()) + 1, vocabulary, float(itself.float().mean()),
                     len(drawn))


def lens_start_verdict(found: LensStart) -> Verdict:
    """Whether the vector right after the embedding 'is' its own token, against other tokens in the same place."""
    holds = found.rank == 1
    return Verdict(holds, "right after the embedding, the vector decodes to its own token",
                   f"Right after the embedding, the last token {display_token(found.token)} ranks **#{found.rank:,}** of "
                   f"{found.vocabulary:,} in the lens; of {found.sampled:,} tokens drawn at random and put in its place, "
                   f"**{found.self_share:.0%}** decode to themselves. "
                   + ("So here the first stage does decode to its own token."
                      if holds else "So the first stage does not simply decode to its own token: the prediction "
                                    "is built by the blocks, not read off the embedding."))


def token_losses(lm: LanguageModel, text: str) -> tuple[list[str], torch.Tensor]:
    """Tokens of `text` and −log p(actual next token) at every position: n tokens give n − 1 training examples."""
    ids = lm.encode(text)
    lm.model.eval()
    with torch.no_grad():
        logits, _ = lm.model(torch.tensor([ids], device=lm.device))
    losses = F.cross_entropy(logits[0, :-1, :lm.vocab_size].float(), torch.tensor(ids[1:], device=lm.device), reduction="none")
    return lm.tokens(ids), losses.cpu()


@dataclass
class TokenComparison:
    """The same text as the model's tokens and as characters."""

    tokens: list[str]
    characters: list[str]
    vocabulary: int  # the model's
    alphabet: int  # distinct characters of the corpus


def tokens_vs_characters(lm: LanguageModel, text: str) -> TokenComparison:
    chars = CharTokenizer.train(data.shakespeare_text())
    return TokenComparison(lm.tokens(lm.tokenizer.encode(text)), chars.token_strings(chars.encode(text)),
                           lm.vocab_size, chars.vocab_size)
