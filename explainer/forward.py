"""The whole forward pass on one prompt, stage by stage, and the training objective, from the trained model."""

from __future__ import annotations

import math
import re
import time
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


# ---------- the whole machine: every stage of one forward pass, with its shape ----------

@dataclass
class Machine:
    """One prompt through the whole model, stage by stage: text → tokens → embeddings → [attention → MLP] × L → the
    last vector → unembedding → softmax. n = tokens, C = width, V = vocabulary, L = blocks."""

    text: str
    tokens: list[str]
    ids: list[int]
    embeddings: torch.Tensor  # [n, C]: each token's row of W_E (plus its position's row of W_pos, if learned)
    after_attention: torch.Tensor  # [L, n, C]: the residual stream after each block's attention
    after_mlp: torch.Tensor  # [L, n, C]: ... and after its MLP (the block's output)
    last: torch.Tensor  # [C]: the last token's vector after the final norm, what the unembedding reads
    logits: torch.Tensor  # [V]
    probs: torch.Tensor  # [V]
    W_E: tuple[int, int]  # the embedding matrix's shape [V, C]
    W_U: tuple[int, int]  # the unembedding's shape [C, V]
    learned_positions: bool  # a position table W_pos is added to the embeddings (False: RoPE turns queries and keys)


def whole_machine(lm: LanguageModel, prompt: str) -> Machine:
    layers = range(lm.layout.n_layer)
    names = ([act_name("resid_pre", 0), act_name("ln_final")] + [act_name("resid_mid", l) for l in layers]
             + [act_name("resid_post", l) for l in layers])
    tokens, logits, cache = lm.run_with_cache(prompt, names)
    stack = lambda hook: torch.stack([cache[act_name(hook, l)][0] for l in layers])
    last_logits = logits[-1].float()
    return Machine(prompt, tokens, lm.encode(prompt), cache[names[0]][0], stack("resid_mid"), stack("resid_post"),
                   cache[act_name("ln_final")][0, -1], last_logits, torch.softmax(last_logits, -1),
                   (lm.vocab_size, lm.layout.d_model), (lm.layout.d_model, lm.vocab_size), lm.layout.W_pos is not None)


@dataclass
class Unembedding:
    """The last vector scored against every token's column of W_U: one dot product per token, then a softmax."""

    vector: torch.Tensor  # x [C]: the last token's vector after the final norm
    tokens: list[str]  # the `top` highest-scoring tokens
    columns: torch.Tensor  # [top, C]: their columns of W_U
    scores: list[float]  # x · column, each computed as its own dot product
    probs: list[float]  # softmax over all V scores
    vocabulary: int  # V: how many dot products the scores are the top of
    largest_difference: float  # between x @ W_U (all V) and the model's own logits


def unembedding(lm: LanguageModel, prompt: str, top: int = 8) -> Unembedding:
    machine = whole_machine(lm, prompt)
    W_U = lm.layout.W_U.cpu().float()[:, :lm.vocab_size]  # [C, V]
    x = machine.last.float()
    scores = x @ W_U  # [V]: one dot product per token
    best = torch.topk(scores, top).indices.tolist()
    probs = torch.softmax(scores, -1)
    return Unembedding(x, lm.tokens(best), W_U[:, best].T, [float(torch.dot(x, W_U[:, i])) for i in best],
                       [float(probs[i]) for i in best], lm.vocab_size, float((scores - machine.logits).abs().max()))


# ---------- every position at once ----------

@dataclass(frozen=True)
class Timing:
    """One way of computing against another that gives the same numbers: the fastest of a few runs of each."""

    together_ms: float  # all at once
    one_by_one_ms: float  # the same numbers one piece at a time
    pieces: int  # how many pieces the second way takes
    largest_difference: float  # between the two ways' results

    @property
    def ratio(self) -> float:
        return self.one_by_one_ms / self.together_ms


def fastest_ms(work, repeats: int) -> tuple[float, torch.Tensor]:
    """The fastest of `repeats` runs of work() in milliseconds, and its result (after one untimed warm-up run)."""
    result = work()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best * 1000, result


@torch.no_grad()
def time_positions(lm: LanguageModel, prompt: str, repeats: int = 3) -> Timing:
    """One forward pass over the prompt's n tokens against n one-token passes, each reading the keys and values cached
    from the tokens before it (the way a model that reads one token at a time must go): the same logits."""
    ids = torch.tensor([lm.encode(prompt)], device=lm.device)
    model = lm.model.eval()

    def one_by_one() -> torch.Tensor:
        past, rows = None, []
        for position in range(ids.shape[1]):
            logits, past = model.forward_with_past(ids[:, position:position + 1], past)
            rows.append(logits[0, -1])
        return torch.stack(rows)

    together_ms, together = fastest_ms(lambda: model.forward_with_past(ids)[0][0], repeats)
    one_ms, each = fastest_ms(one_by_one, repeats)
    return Timing(together_ms, one_ms, ids.shape[1], float((together - each).abs().max()))


@torch.no_grad()
def time_matmul(lm: LanguageModel, prompt: str, repeats: int = 3) -> Timing:
    """The unembedding of every position as one matrix multiplication X [n, C] @ W_U [C, V], against a loop of n
    vector-times-matrix products, one position at a time."""
    x = final_vectors(lm, prompt)  # [n, C]
    W_U = lm.layout.W_U[:, :lm.vocab_size].cpu().float()
    together_ms, together = fastest_ms(lambda: x @ W_U, repeats)
    one_ms, each = fastest_ms(lambda: torch.stack([row @ W_U for row in x]), repeats)
    return Timing(together_ms, one_ms, x.shape[0], float((together - each).abs().max()))


def final_vectors(lm: LanguageModel, prompt: str) -> torch.Tensor:
    """Every position's vector after the final norm [n, C]."""
    _, _, cache = lm.run_with_cache(prompt, act_name("ln_final"))
    return cache[act_name("ln_final")][0].float()


SAME = 1e-3  # "the same numbers": no logit differs by more than this


def parallel_verdict(positions: Timing, matmul: Timing) -> Verdict:
    """Is computing every position at once faster than one at a time, for the same numbers?"""
    holds = positions.ratio > 1 and matmul.ratio > 1 and max(positions.largest_difference, matmul.largest_difference) <= SAME
    return Verdict(holds, "computing every position at once is faster than one at a time",
                   f"One forward pass over the {positions.pieces} tokens took **{positions.together_ms:.1f} ms**; the same "
                   f"tokens fed one at a time, each reading the keys and values kept from the ones before, took "
                   f"**{positions.one_by_one_ms:.1f} ms** ({positions.ratio:.1f}×), with logits equal to within "
                   f"{positions.largest_difference:.1e}. The unembedding of every position as one matrix multiplication took "
                   f"{matmul.together_ms:.2f} ms; as {matmul.pieces} products of one vector with the matrix, "
                   f"{matmul.one_by_one_ms:.2f} ms ({matmul.ratio:.1f}×), equal to within {matmul.largest_difference:.1e}. "
                   + ("So the same arithmetic, done all at once, is faster: the reason the whole text goes through in one "
                      "pass." if holds else "So here, on this machine, doing it all at once is not faster (or the numbers "
                                              "differ): small models on a busy CPU spend their time elsewhere."))


# ---------- pre-training: the labels are the text ----------

def next_token_examples(lm: LanguageModel, text: str) -> list[tuple[str, str]]:
    """Every (token, the token after it) of a text: what training asks the model to predict at each position, taken
    from the text itself."""
    tokens = lm.tokens(lm.encode(text))
    return list(zip(tokens, tokens[1:]))


def training_record(lm: LanguageModel) -> str:
    """What this model was trained on, from its checkpoint (Markdown)."""
    corpus, training = lm.meta.get("corpus"), lm.meta.get("training")
    if not corpus or not training:
        return f"{lm.name} was trained elsewhere; its checkpoint does not say on what."
    steps, batch, block = lm.meta["step"], training["batch_size"], training["block_size"]
    return (f"{lm.name} read {corpus['source']}: {corpus['train_tokens']:,} tokens of training text, no labels. Its "
            f"{steps:,} steps each took {batch} windows of {block} tokens, {batch * block:,} predictions a step, "
            f"{steps * batch * block:,} in all, every target the next token of the text.")
