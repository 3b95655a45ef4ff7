"""The MLP, where most weights live: each token's vector goes up to 4 × C neurons, through a GELU, and back down,
and the result is added to the vector. A neuron is a question (its input direction: how much does the vector point
this way?) and an answer (its output direction: what it adds when it fires).

The talk's example of what MLPs store, "Michael Jordan plays the sport of basketball", is a fact our Shakespeare model
never saw. What it can store are the corpus's own regularities; FACTS measures one: the second word of a speaker's
two-word name, given only the first (MARK → ANTONY), a lookup that no context provides.
"""

from __future__ import annotations

import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from explainer.errors import ExplainerError
from explainer.files import read_json, write_json
from explainer.gpt import data
from explainer.gpt.checkpoint import LanguageModel
from explainer.paths import DATA_DIR

NEURONS_FILE = DATA_DIR / "precomputed" / "neurons.json"
NEURONS_REMAKE = "explainer precompute neurons"
FACTS_FILE = DATA_DIR / "precomputed" / "speaker_facts.json"
FACTS_REMAKE = "explainer precompute speaker-facts"


def check_neuron(lm: LanguageModel, layer: int, neuron: int) -> None:
    config = lm.model.config
    if not 0 <= layer < config.n_layer:
        raise ExplainerError(f"layer must be 0 … {config.n_layer - 1}, got {layer}")
    if not 0 <= neuron < 4 * config.n_embd:
        raise ExplainerError(f"neuron must be 0 … {4 * config.n_embd - 1}, got {neuron}")


@dataclass
class MLPPass:
    """One token through one MLP."""

    tokens: list[str]
    layer: int
    position: int
    before: torch.Tensor  # the residual vector entering the MLP [C]
    read: torch.Tensor  # LayerNorm of it, what the MLP reads [C]
    pre: torch.Tensor  # every neuron's input, W_in · read + b [4C]
    post: torch.Tensor  # after the GELU [4C]
    added: torch.Tensor  # W_out · post + b: what the MLP adds to the vector [C]


def mlp_pass(lm: LanguageModel, prompt: str, layer: int, position: int = -1) -> MLPPass:
    from explainer.attention import cached_run  # the same cached run the attention explorers use

    check_neuron(lm, layer, 0)
    tokens, _, cache = cached_run(lm, prompt)
    position = position % len(tokens)
    before = cache[f"blocks.{layer}.hook_resid_mid"][0, position]
    with torch.no_grad():
        read = lm.model.transformer.h[layer].ln_2(before.to(lm.device)).cpu()
    return MLPPass(tokens, layer, position, before, read, cache[f"blocks.{layer}.mlp.hook_pre"][0, position],
                   cache[f"blocks.{layer}.mlp.hook_post"][0, position], cache[f"blocks.{layer}.hook_mlp_out"][0, position])


def neuron_question(lm: LanguageModel, layer: int, neuron: int) -> torch.Tensor:
    """The direction a neuron reads: its row of the MLP's first matrix [C] (the neuron's input is read · this + bias)."""
    check_neuron(lm, layer, neuron)
    return lm.model.transformer.h[layer].mlp.c_fc.weight.detach().cpu()[neuron]


def neuron_answer(lm: LanguageModel, layer: int, neuron: int) -> torch.Tensor:
    """The direction a neuron writes when it fires: its column of the MLP's second matrix [C]."""
    check_neuron(lm, layer, neuron)
    return lm.model.transformer.h[layer].mlp.c_proj.weight.detach().cpu()[:, neuron]


def promoted_tokens(lm: LanguageModel, direction: torch.Tensor, top: int = 8) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """A direction read through the unembedding: the tokens whose logits it raises most and lowers most (its direct
    effect, leaving out the final LayerNorm's rescaling)."""
    logits = lm.model.lm_head.weight.detach().cpu() @ direction
    up, down = torch.topk(logits, top), torch.topk(-logits, top)
    return (list(zip(lm.tokens(up.indices.tolist()), up.values.tolist())),
            list(zip(lm.tokens(down.indices.tolist()), (-down.values).tolist())))


# ---------- the contexts that make a neuron fire ----------

@torch.no_grad()
def scan_neurons(lm: LanguageModel, ids: list[int], top: int = 5, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Every neuron's `top` strongest activations over a token stream, read in consecutive block_size windows.
    Returns (activations, token indices), each [layer, neuron, top]."""
    T, L = lm.block_size, lm.model.config.n_layer
    windows = torch.tensor(ids[: len(ids) // T * T]).view(-1, T)
    best_values = torch.full((L, 4 * lm.model.config.n_embd, top), -torch.inf)
    best_index = torch.zeros_like(best_values, dtype=torch.long)
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size]
        _, cache = lm.model.run_with_cache(batch.to(lm.device))
        offsets = (start * T + torch.arange(batch.numel())).repeat(L, 1)  # [L, tokens]: index in the stream
        post = torch.stack([cache[f"blocks.{l}.mlp.hook_post"].cpu().flatten(0, 1) for l in range(L)])  # [L, tokens, 4C]
        values = torch.cat([best_values, post.transpose(1, 2)], dim=2)  # [L, 4C, top + tokens]
        index = torch.cat([best_index, offsets[:, None, :].expand(-1, post.shape[2], -1)], dim=2)
        best_values, order = torch.topk(values, top, dim=2)
        best_index = torch.gather(index, 2, order)
    return best_values, best_index


@lru_cache(maxsize=4)
def validation_ids(lm: LanguageModel) -> list[int]:
    return lm.tokenizer.encode(data.train_val_split(data.shakespeare_text()).val)


CONTEXT_BEFORE = 10  # tokens kept before each firing token in NEURONS_FILE


@dataclass
class NeuronScan:
    """Every neuron's strongest activations in the validation text, each with its context."""
    activations: torch.Tensor  # [layer, neuron, top]
    token_index: torch.Tensor  # [layer, neuron, top]: where in the validation text each firing token stands
    contexts: list  # [layer][neuron][top]: up to CONTEXT_BEFORE token ids before the firing token, and that token last


def scan_validation_text(lm: LanguageModel, top: int = 5) -> NeuronScan:
    """scan_neurons over the validation text (tens of seconds), with each firing's context."""
    ids = validation_ids(lm)
    values, index = scan_neurons(lm, ids, top)
    contexts = [[[ids[max(0, i - CONTEXT_BEFORE):i + 1] for i in firings] for firings in layer] for layer in index.tolist()]
    return NeuronScan(values, index, contexts)


def write_neurons(top: int = 5) -> str:
    """Scan the validation text with the shipped model and write NEURONS_FILE (`explainer precompute neurons`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    scan = scan_validation_text(lm, top)
    write_json(NEURONS_FILE, {"made_by": NEURONS_REMAKE, "weights_sha256": lm.digest, "text": "the validation text",
                              "window": lm.block_size, "activations": scan.activations.double().round(decimals=3).tolist(),
                              "token_index": scan.token_index.tolist(), "contexts": scan.contexts})
    return str(NEURONS_FILE)


@dataclass
class Firing:
    activation: float
    context: list[str]  # the tokens before the firing token, and that token last


def top_contexts(lm: LanguageModel, layer: int, neuron: int, before: int = CONTEXT_BEFORE) -> list[Firing]:
    """Where in the validation text this neuron fires most, from the shipped scan when it was made with these exact
    weights, else scanned now (tens of seconds)."""
    check_neuron(lm, layer, neuron)
    if not 0 <= before <= CONTEXT_BEFORE:
        raise ExplainerError(f"before must be 0 … {CONTEXT_BEFORE} tokens, got {before}")
    scan = neuron_scan(lm)
    return [Firing(float(v), lm.tokens(context[-(before + 1):]))
            for v, context in zip(scan.activations[layer, neuron].tolist(), scan.contexts[layer][neuron])]


@lru_cache(maxsize=4)
def neuron_scan(lm: LanguageModel) -> NeuronScan:
    """The validation text's scan: read from NEURONS_FILE if made with these exact weights, else run now."""
    shipped = read_json(NEURONS_FILE, NEURONS_REMAKE) if NEURONS_FILE.is_file() else {}
    if lm.digest is not None and shipped.get("weights_sha256") == lm.digest and "contexts" in shipped:
        return NeuronScan(torch.tensor(shipped["activations"]), torch.tensor(shipped["token_index"]), shipped["contexts"])
    return scan_validation_text(lm)


def strongest_neuron(lm: LanguageModel, layer: int) -> int:
    """The neuron of `layer` with the strongest single activation in the validation text."""
    check_neuron(lm, layer, 0)
    return int(torch.argmax(neuron_scan(lm).activations[layer, :, 0]))


# ---------- a fact-like lookup, and where it lives ----------

FACT_MIN_COUNT, FACT_MIN_SHARE = 30, 0.9  # a name seen at least this often, its first word with this second word this often


@dataclass(frozen=True)
class Fact:
    first: str  # "MARK"
    second: str  # "ANTONY"
    share: float  # how often FIRST is followed by SECOND among the speakers' names in the training text
    count: int


def find_speaker_facts(text: str, min_count: int = FACT_MIN_COUNT, min_share: float = FACT_MIN_SHARE) -> list[Fact]:
    """Two-word speaker names ('MARK ANTONY:' lines) whose first word nearly always comes with the same second word."""
    names = Counter(re.findall(r"^([A-Z]+) ([A-Z]+):$", text, flags=re.M))
    firsts = Counter()
    for (first, _), n in names.items():
        firsts[first] += n
    return sorted((Fact(first, second, n / firsts[first], n) for (first, second), n in names.items()
                   if n >= min_count and n / firsts[first] >= min_share), key=lambda f: -f.count)


def write_speaker_facts() -> str:
    """Find the facts in the training text and write FACTS_FILE (`explainer precompute speaker-facts`)."""
    facts = find_speaker_facts(data.train_val_split(data.shakespeare_text()).train)
    write_json(FACTS_FILE, {"made_by": FACTS_REMAKE, "text": "the training text", "rule": find_speaker_facts.__doc__,
                            "min_count": FACT_MIN_COUNT, "min_share": FACT_MIN_SHARE, "facts": [vars(f) for f in facts]})
    return str(FACTS_FILE)


def speaker_facts() -> list[Fact]:
    """The training text's two-word speaker names that behave like facts, as shipped in FACTS_FILE."""
    return [Fact(**f) for f in read_json(FACTS_FILE, FACTS_REMAKE)["facts"]]


@contextmanager
def ablated(lm: LanguageModel, part: str, layer: int):
    """Within the block, `part` ('mlp' or 'attn') of `layer` adds nothing to the residual stream."""
    module = getattr(lm.model.transformer.h[layer], part)
    zero = (lambda m, i, out: (torch.zeros_like(out[0]), out[1])) if part == "attn" else (lambda m, i, out: torch.zeros_like(out))
    handle = module.register_forward_hook(zero)
    try:
        yield
    finally:
        handle.remove()


@dataclass
class Recall:
    facts: list[Fact]
    usable: list[Fact]  # facts whose two words are single tokens of this model
    probability: torch.Tensor  # p(second | "\nFIRST") per usable fact
    without_mlp: torch.Tensor  # [layer, fact]: the same with that layer's MLP ablated
    without_attention: torch.Tensor  # [layer, fact]


@torch.no_grad()
def recall(lm: LanguageModel, facts: list[Fact]) -> Recall:
    """How much probability the model gives each name's second word after a line break and the first word, and how
    much is left when one MLP or one attention layer adds nothing."""
    usable, prompts, answers = [], [], []
    for fact in facts:
        prompt, answer = lm.tokenizer.encode(f"\n\n{fact.first}"), lm.tokenizer.encode(f" {fact.second}")
        if len(answer) == 1 and len(lm.tokenizer.encode(fact.first)) == 1:
            usable.append(fact)
            prompts.append(prompt)
            answers.append(answer[0])

    if not usable:  # this tokenizer splits every name: nothing to measure
        empty = torch.zeros(lm.model.config.n_layer, 0)
        return Recall(facts, [], torch.zeros(0), empty, empty)

    def probability() -> torch.Tensor:
        return torch.tensor([float(F.softmax(lm.model(torch.tensor([p], device=lm.device))[0][0, -1].float(), -1)[a])
                             for p, a in zip(prompts, answers)])

    lm.model.eval()
    layers = range(lm.model.config.n_layer)
    parts = {}
    for part in ("mlp", "attn"):
        rows = []
        for layer in layers:
            with ablated(lm, part, layer):
                rows.append(probability())
        parts[part] = torch.stack(rows)
    return Recall(facts, usable, probability(), parts["mlp"], parts["attn"])


def recall_findings(found: Recall) -> str:
    """What silencing each part does to the lookup, in words (Markdown)."""
    if not found.usable:
        return "This model's tokenizer splits every one of the names into pieces, so the lookup cannot be measured here."
    intact = float(found.probability.mean())
    mlp_drop = found.without_mlp.mean(1)
    attention_drop = found.without_attention.mean(1)
    worst_mlp, worst_attention = int(torch.argmin(mlp_drop)), int(torch.argmin(attention_drop))
    names = ", ".join(f"{f.first} → {f.second}" for f in found.usable)
    return (f"Intact, the model gives the right second name **{intact:.0%}** on average over {len(found.usable)} names "
            f"({names}). "
            f"Silencing the MLP of layer {worst_mlp} leaves **{float(mlp_drop[worst_mlp]):.0%}**; the most harmful attention "
            f"layer to silence (layer {worst_attention}) leaves {float(attention_drop[worst_attention]):.0%}.")
