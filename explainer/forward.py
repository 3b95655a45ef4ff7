"""The whole forward pass on one prompt, stage by stage, and the training objective, from the trained model."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explainer.gpt import data
from explainer.gpt.checkpoint import LanguageModel
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
    with torch.no_grad():
        probs = torch.softmax(lm.model.lm_head(lm.model.transformer.ln_f(vector.to(lm.device))).float(), -1).cpu()
    return top_tokens(lm, probs, top)


def nearest_tokens(lm: LanguageModel, vector: torch.Tensor, top: int = 5) -> TopTokens:
    """The tokens whose embeddings point most nearly the same way as `vector` [C] (cosine similarity), the
    under-trained ones left out."""
    embeddings = lm.model.transformer.wte.weight.detach().cpu()
    return top_tokens(lm, torch.nn.functional.cosine_similarity(embeddings, vector.cpu()[None, :], dim=1), top)


@dataclass
class ForwardPass:
    """One prompt through the whole model, every position at once (the whole-machine chapter draws it)."""

    tokens: list[str]
    ids: list[int]
    token_embeddings: torch.Tensor  # [n, C]: the tokens' rows of W_E
    position_embeddings: torch.Tensor | None  # [n, C]: rows 0 … n − 1 of W_pos (None with rotary positions)
    stages: list[tuple[str, torch.Tensor]]  # the residual stream [n, C] after the embedding and after each attention and MLP
    final: torch.Tensor  # [n, C]: the last stage through the final norm
    logits: torch.Tensor  # [n, V]: final @ W_U, one row of scores per position
    probs: torch.Tensor  # [n, V]: softmax of each row


def forward_pass(lm: LanguageModel, prompt: str) -> ForwardPass:
    """The prompt's tokens, embeddings, residual stream stage by stage, scores and probabilities at every position."""
    tokens, logits, cache = lm.run_with_cache(prompt)
    stages = [("embedding", cache["blocks.0.hook_resid_pre"][0])]
    for layer in range(lm.model.config.n_layer):
        stages += [(f"+ attention {layer}", cache[f"blocks.{layer}.hook_resid_mid"][0]),
                   (f"+ MLP {layer}", cache[f"blocks.{layer}.hook_resid_post"][0])]
    ids, W_pos = lm.encode(prompt), lm.layout.W_pos
    return ForwardPass(tokens, ids, lm.layout.W_E[ids].cpu(), None if W_pos is None else W_pos[:len(ids)].cpu(), stages,
                       lm.layout.final_norm(stages[-1][1]), logits, torch.softmax(logits.float(), -1))


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
    _, _, cache = lm.run_with_cache(prompt)
    stages = [("embedding + position", cache["blocks.0.hook_resid_pre"])]
    stages += [(f"after block {l}", cache[f"blocks.{l}.hook_resid_post"]) for l in range(lm.model.config.n_layer)]
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
    W_E = lm.model.transformer.wte.weight.detach()
    place = lm.model.transformer.wpe.weight.detach()[position]
    vocabulary = lm.tokenizer.vocab_size

    def logits(token_ids: torch.Tensor) -> torch.Tensor:  # [n, V]
        return lm.model.lm_head(lm.model.transformer.ln_f(W_E[token_ids] + place)).float()[:, :vocabulary]

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
    losses = F.cross_entropy(logits[0, :-1].float(), torch.tensor(ids[1:], device=lm.device), reduction="none")
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
                           lm.tokenizer.vocab_size, chars.vocab_size)
