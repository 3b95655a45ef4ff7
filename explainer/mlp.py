"""The MLP, where most weights live: each token's vector goes up to 4 × C neurons, through a GELU, and back down,
and the result is added to the vector. A neuron is a question (its input direction: how much does the vector point
this way?) and an answer (its output direction: what it adds when it fires).

The talk's example of what MLPs store, "Michael Jordan plays the sport of basketball", is a fact our Shakespeare model
never saw. What it can store are the corpus's own regularities. The ones measured here are set phrases whose last word
the two before it fix but the one before it alone does not ("flesh and" → "blood"): a lookup that needs context, not
a bigram. Where they live is measured by mean-ablation (a part's output replaced by its average), with the effect on
ordinary text as the control.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from explainer.errors import ExplainerError
from explainer.files import read_json, shipped_measurement, write_json, write_measurement
from explainer.gpt import budget, data
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.hooks import act_name
from explainer.paths import DATA_DIR
from explainer.verdict import Verdict
from explainer.vocabulary import TopTokens, meaningful_top

NEURONS_FILE = DATA_DIR / "precomputed" / "neurons.json"
NEURONS_REMAKE = "explainer precompute neurons"


def check_neuron(lm: LanguageModel, layer: int, neuron: int) -> None:
    layers, neurons = lm.layout.n_layer, lm.layout.d_mlp
    if not 0 <= layer < layers:
        raise ExplainerError(f"layer must be 0 … {layers - 1}, got {layer}")
    if not 0 <= neuron < neurons:
        raise ExplainerError(f"neuron must be 0 … {neurons - 1}, got {neuron}")


FIRES = 0.1  # a neuron whose output is above this fires (for a count of firing neurons)


@dataclass
class MLPPass:
    """One token through one MLP."""

    tokens: list[str]
    layer: int
    position: int
    before: torch.Tensor  # the residual vector entering the MLP [C]
    read: torch.Tensor  # its norm, what the MLP reads [C]
    pre: torch.Tensor  # every neuron's input, W_in · read + b [M] (a gated MLP: the gate's, W_gate · read + b)
    pre_linear: torch.Tensor | None  # a gated MLP's other input, W_in · read + b, that the gate multiplies [M]
    post: torch.Tensor  # after the nonlinearity [M]
    added: torch.Tensor  # W_out · post + b: what the MLP adds to the vector [C]

    @property
    def firing(self) -> int:
        """How many neurons fire: output above FIRES."""
        return int((self.post > FIRES).sum())


def mlp_pass(lm: LanguageModel, prompt: str, layer: int, position: int = -1) -> MLPPass:
    from explainer.attention import cached_run  # the same cached run the attention explorers use

    check_neuron(lm, layer, 0)
    tokens, _, cache = cached_run(lm, prompt)
    position = position % len(tokens)
    before = cache[act_name("resid_mid", layer)][0, position]
    linear = cache.get(act_name("pre_linear", layer)) if lm.layout.gated else None
    return MLPPass(tokens, layer, position, before, lm.layout.mlp_norm(layer, before), cache[act_name("pre", layer)][0, position],
                   None if linear is None else linear[0, position], cache[act_name("post", layer)][0, position],
                   cache[act_name("mlp_out", layer)][0, position])


def describe(lm: LanguageModel) -> str:
    """What this model's MLP computes, in one line (Markdown)."""
    layout = lm.layout
    if layout.gated:
        return (f"This model's MLP is **gated** (SwiGLU, as in LLaMA): each of its {layout.d_mlp:,} neurons multiplies "
                "two weighted sums of the vector, one passed through a SiLU (the gate, shown as the neuron's input) and "
                "one not, then a third matrix maps them back down.")
    return (f"This model's MLP: {layout.d_model} numbers up to {layout.d_mlp:,} neurons, each through the nonlinearity, "
            f"and back down to {layout.d_model}.")


def neuron_question(lm: LanguageModel, layer: int, neuron: int) -> torch.Tensor:
    """The direction a neuron reads: its column of the MLP's first matrix [C] (the neuron's input is read · this + bias;
    in a gated MLP the gate's column, whose input goes through the nonlinearity)."""
    check_neuron(lm, layer, neuron)
    gate = lm.layout.W_gate[layer]
    return (lm.layout.W_in[layer] if gate is None else gate)[:, neuron].cpu()


def neuron_answer(lm: LanguageModel, layer: int, neuron: int) -> torch.Tensor:
    """The direction a neuron writes when it fires: its column of the MLP's second matrix [C]."""
    check_neuron(lm, layer, neuron)
    return lm.layout.W_out[layer][neuron].cpu()


@dataclass
class Promoted:
    """Directions read through the unembedding: for each, the tokens whose logits it raises most and lowers most (ids
    and logit changes, best first), and how many under-trained tokens ranked among each and were left out."""

    raised: torch.Tensor  # [direction, top] token ids
    raised_by: torch.Tensor  # [direction, top]
    raised_left_out: torch.Tensor  # [direction]
    lowered: torch.Tensor  # [direction, top] token ids
    lowered_by: torch.Tensor  # [direction, top], below 0
    lowered_left_out: torch.Tensor  # [direction]


def promoted(lm: LanguageModel, directions: torch.Tensor, top: int = 8) -> Promoted:
    """Directions [N, C] read through the unembedding (their direct effect on the logits, leaving out the final
    LayerNorm's rescaling), the under-trained tokens left out."""
    logits = (directions.to(lm.layout.W_U) @ lm.layout.W_U).cpu()[:, :lm.vocab_size].float()  # [N, V]
    up, up_left = meaningful_top(lm, logits, top)
    down, down_left = meaningful_top(lm, -logits, top)
    return Promoted(up, logits.gather(1, up), up_left, down, logits.gather(1, down), down_left)


def promoted_tokens(lm: LanguageModel, direction: torch.Tensor, top: int = 8) -> tuple[TopTokens, TopTokens]:
    """One direction [C] read through the unembedding (see `promoted`): the tokens it raises most and lowers most,
    each with its logit change."""
    found = promoted(lm, direction[None], top)
    return (TopTokens(zip(lm.tokens(found.raised[0].tolist()), found.raised_by[0].tolist()), int(found.raised_left_out[0])),
            TopTokens(zip(lm.tokens(found.lowered[0].tolist()), found.lowered_by[0].tolist()), int(found.lowered_left_out[0])))


# ---------- the contexts that make a neuron fire ----------

SCAN_WINDOW = 128  # tokens a window when scanning text for neurons (fewer if the model's context is shorter)
LIVE_SCAN_TOKENS = 16_384  # a scan made while a notebook runs reads at most this many tokens of the validation text


@torch.no_grad()
def scan_neurons(lm: LanguageModel, ids: list[int], top: int = 5, window: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every neuron's `top` strongest activations over a token stream, read in consecutive windows of `window` tokens
    (default: the context, at most SCAN_WINDOW). Returns (activations, token indices), each [layer, neuron, top]."""
    T, L = window or min(lm.block_size, SCAN_WINDOW), lm.layout.n_layer
    windows = torch.tensor(ids[: len(ids) // T * T]).view(-1, T).tolist()
    best_values = torch.full((L, lm.layout.d_mlp, top), -torch.inf)
    best_index = torch.zeros_like(best_values, dtype=torch.long)
    names = [act_name("post", l) for l in range(L)]
    start = 0
    for cache in lm.scan(windows, names):
        count = cache[names[0]].shape[0]
        offsets = (start * T + torch.arange(count * T)).repeat(L, 1)  # [L, tokens]: index in the stream
        post = torch.stack([cache[name].flatten(0, 1) for name in names])  # [L, tokens, M]
        values = torch.cat([best_values, post.transpose(1, 2)], dim=2)  # [L, M, top + tokens]
        index = torch.cat([best_index, offsets[:, None, :].expand(-1, post.shape[2], -1)], dim=2)
        best_values, order = torch.topk(values, top, dim=2)
        best_index = torch.gather(index, 2, order)
        start += count
    return best_values, best_index


@lru_cache(maxsize=4)
def validation_ids(lm: LanguageModel) -> list[int]:
    return lm.tokenizer.encode(data.validation_text(lm.tokenizer))


CONTEXT_BEFORE = 10  # tokens kept before each firing token in NEURONS_FILE


@dataclass
class NeuronScan:
    """Every neuron's strongest activations in the validation text, each with its context."""
    activations: torch.Tensor  # [layer, neuron, top]
    token_index: torch.Tensor  # [layer, neuron, top]: where in the validation text each firing token stands
    contexts: list  # [layer][neuron][top]: up to CONTEXT_BEFORE token ids before the firing token, and that token last


def scan_validation_text(lm: LanguageModel, top: int = 5, tokens: int | None = None) -> NeuronScan:
    """scan_neurons over the validation text (or its first `tokens` tokens), with each firing's context."""
    ids = validation_ids(lm)[:tokens]
    values, index = scan_neurons(lm, ids, top)
    contexts = [[[ids[max(0, i - CONTEXT_BEFORE):i + 1] for i in firings] for firings in layer] for layer in index.tolist()]
    return NeuronScan(values, index, contexts)


def write_neurons(top: int = 5) -> str:
    """Scan the validation text with the shipped model and write NEURONS_FILE (`explainer precompute neurons`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    scan = scan_validation_text(lm, top)
    write_measurement(NEURONS_FILE, NEURONS_REMAKE, lm.digest, {
        "text": "the validation text", "window": lm.block_size, "activations": scan.activations.double().round(decimals=3).tolist(),
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
    shipped = shipped_measurement(NEURONS_FILE, NEURONS_REMAKE, lm.digest)
    if shipped is not None:
        return NeuronScan(torch.tensor(shipped["activations"]), torch.tensor(shipped["token_index"]), shipped["contexts"])
    window = min(lm.block_size, SCAN_WINDOW)
    return scan_validation_text(lm, tokens=max(window, min(LIVE_SCAN_TOKENS, budget.affordable_tokens(lm.model))))


def strongest_neuron(lm: LanguageModel, layer: int) -> int:
    """The neuron of `layer` with the strongest single activation in the validation text."""
    check_neuron(lm, layer, 0)
    return int(torch.argmax(neuron_scan(lm).activations[layer, :, 0]))


# ---------- lookups that need context, and where they live ----------

PHRASE_MIN_COUNT = 10  # a two-word opening seen at least this often in the training text,
PHRASE_MIN_SHARE = 0.75  # followed by the same word at least this often,
BIGRAM_MAX_SHARE = 0.25  # while that word follows the second word alone at most this often
LOOKUP_WINDOW = 64  # tokens of validation text before each answer (fewer if the model's context is shorter)
ORDINARY_WINDOWS = 200  # random windows of the validation text for the ordinary loss
BREAKS, SPECIFIC, MIN_EFFECT = 1.0, 2.0, 0.3  # nats: breaks all text; × ordinary; smallest effect worth naming
PHRASES_FILE = DATA_DIR / "precomputed" / "set_phrases.json"
PHRASES_REMAKE = "explainer precompute set-phrases"
LOOKUPS_FILE = DATA_DIR / "precomputed" / "lookups.json"
LOOKUPS_REMAKE = "explainer precompute lookups"


@dataclass(frozen=True)
class Phrase:
    """'flesh and' → 'blood': the third word is nearly fixed by the first two, but not by the second alone, so
    predicting it needs the word two back: a lookup that needs context, not a bigram."""

    first: str
    second: str
    answer: str
    share: float  # how often FIRST SECOND is followed by ANSWER in the training text
    bigram_share: float  # how often SECOND alone is followed by ANSWER
    count: int  # occurrences of FIRST SECOND


def text_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z']+|[^\sA-Za-z']", text)


def find_set_phrases(text: str) -> list[Phrase]:
    """Three-word phrases of `text` whose last word the first two fix and the second alone does not (see Phrase)."""
    words = text_words(text)
    after_two, after_one = {}, {}
    for a, b, c in zip(words, words[1:], words[2:]):
        after_two.setdefault((a, b), Counter())[c] += 1
    for b, c in zip(words, words[1:]):
        after_one.setdefault(b, Counter())[c] += 1
    found = []
    for (a, b), following in after_two.items():
        count = sum(following.values())
        answer, n = following.most_common(1)[0]
        if count < PHRASE_MIN_COUNT or not (a[0].isalpha() and b[0].isalpha() and answer[0].isalpha()):
            continue
        bigram = after_one[b][answer] / sum(after_one[b].values())
        if n / count >= PHRASE_MIN_SHARE and bigram <= BIGRAM_MAX_SHARE:
            found.append(Phrase(a, b, answer, n / count, bigram, count))
    return sorted(found, key=lambda p: (-p.count, p.first, p.second))


def write_set_phrases() -> str:
    """Find the phrases in the training text and write PHRASES_FILE (`explainer precompute set-phrases`)."""
    phrases = find_set_phrases(data.train_val_split(data.shakespeare_text()).train)
    write_json(PHRASES_FILE, {"made_by": PHRASES_REMAKE, "text": "the training text", "rule": Phrase.__doc__,
                              "min_count": PHRASE_MIN_COUNT, "min_share": PHRASE_MIN_SHARE,
                              "bigram_max_share": BIGRAM_MAX_SHARE, "phrases": [vars(p) for p in phrases]})
    return str(PHRASES_FILE)


def set_phrases() -> list[Phrase]:
    return [Phrase(**p) for p in read_json(PHRASES_FILE, PHRASES_REMAKE)["phrases"]]


@dataclass
class Lookups:
    """Occurrences of the phrases in the validation text, each as the window of tokens before its answer."""

    windows: list[list[int]]  # each ends with the phrase's second word
    answers: list[int]  # the answer's token id
    phrases: list[Phrase]  # the phrase of each occurrence


def lookup_windows(lm: LanguageModel, text: str, phrases: list[Phrase]) -> Lookups:
    """Every occurrence in `text` whose answer is one token for this model, with a full window before it."""
    size = min(lm.block_size, LOOKUP_WINDOW)
    windows, answers, found = [], [], []
    for phrase in phrases:
        answer = lm.tokenizer.encode(f" {phrase.answer}")
        if len(answer) != 1:
            continue
        pattern = rf"(?<![A-Za-z']){re.escape(phrase.first)} {re.escape(phrase.second)}(?= {re.escape(phrase.answer)}(?![A-Za-z']))"
        for match in re.finditer(pattern, text):
            ids = lm.tokenizer.encode(text[max(0, match.end() - 8 * size):match.end()])
            if len(ids) >= size and lm.tokens(ids[-1:])[0].strip() == phrase.second:
                windows.append(ids[-size:])
                answers.append(answer[0])
                found.append(phrase)
    return Lookups(windows, answers, found)


@contextmanager
def mean_ablated(lm: LanguageModel, part: str, layer: int, mean: torch.Tensor):
    """Within the block, `part` ('mlp' or 'attn') of `layer` adds its average output `mean` [C] at every position
    instead of its own: what is specific to this text is taken out, its usual contribution is kept."""
    module = getattr(lm.layout.block(layer), part)
    if part == "attn":
        replace = lambda m, i, out: (mean.to(out[0]).expand_as(out[0]), out[1])
    else:
        replace = lambda m, i, out: mean.to(out).expand_as(out)
    handle = module.register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()


@dataclass
class AblationResult:
    """The lookups and ordinary text, intact and with each part of each layer mean-ablated."""

    phrases: list[Phrase]  # the distinct phrases measured
    occurrences: int
    lookup_nll: float  # −log p(answer), mean over occurrences, intact
    ordinary_loss: float  # mean next-token loss on random windows of the validation text, intact
    lookup_change: dict[str, list[float]]  # part ("mlp" / "attn") → per layer: lookup −log p after ablation − intact
    ordinary_change: dict[str, list[float]]  # the same for the ordinary loss

    @property
    def recall(self) -> float:
        """The intact model's geometric-mean probability of the answers."""
        return math.exp(-self.lookup_nll)


@dataclass(frozen=True)
class NotMeasured:
    """A measurement that could not be made for this model, and why."""

    reason: str


@torch.no_grad()
def measure_lookups(lm: LanguageModel, seed: int = 0, ordinary_windows: int = ORDINARY_WINDOWS,
                    occurrences: int | None = None) -> AblationResult:
    """Mean-ablate every MLP and every attention layer in turn; measure the lookups (the first `occurrences`, default
    all) and the ordinary loss on `ordinary_windows` random windows each time."""
    lookups = lookup_windows(lm, data.validation_text(lm.tokenizer), set_phrases())
    if not lookups.windows:
        raise ExplainerError("none of the phrases' answers is one token for this model's tokenizer, so the lookups "
                             "cannot be measured here")
    lookups = Lookups(lookups.windows[:occurrences], lookups.answers[:occurrences], lookups.phrases[:occurrences])
    size = len(lookups.windows[0])
    ids = validation_ids(lm)
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - size - 1, (ordinary_windows,), generator=generator).tolist()
    ordinary = torch.tensor([ids[s:s + size + 1] for s in starts], device=lm.device)
    windows = torch.tensor(lookups.windows, device=lm.device)
    answers = torch.tensor(lookups.answers, device=lm.device)
    lm.model.eval()

    def measure() -> tuple[float, float]:
        logits, _ = lm.model(windows)
        lookup = -F.log_softmax(logits[:, -1, :lm.vocab_size].float(), -1).gather(1, answers[:, None]).mean()
        logits, _ = lm.model(ordinary[:, :-1])
        loss = F.cross_entropy(logits[..., :lm.vocab_size].flatten(0, 1).float(), ordinary[:, 1:].flatten())
        return float(lookup), float(loss)

    outputs = [act_name(hook, l) for hook in ("mlp_out", "attn_out") for l in range(lm.layout.n_layer)]
    sums = {name: 0 for name in outputs}
    for cache in lm.scan(ordinary[:, :-1].tolist(), outputs):
        for name in outputs:
            sums[name] = sums[name] + cache[name].sum((0, 1))
    means = {name: total / (len(ordinary) * size) for name, total in sums.items()}
    lookup_nll, ordinary_loss = measure()
    changes = {"mlp": ([], []), "attn": ([], [])}
    for part, hook in (("mlp", "mlp_out"), ("attn", "attn_out")):
        for layer in range(lm.model.config.n_layer):
            mean = means[act_name(hook, layer)]
            with mean_ablated(lm, part, layer, mean):
                lookup, loss = measure()
            changes[part][0].append(lookup - lookup_nll)
            changes[part][1].append(loss - ordinary_loss)
    distinct = list(dict.fromkeys(lookups.phrases))
    return AblationResult(distinct, len(lookups.windows), lookup_nll, ordinary_loss,
                          {p: c[0] for p, c in changes.items()}, {p: c[1] for p, c in changes.items()})


def write_lookups() -> str:
    """Measure the shipped model and write LOOKUPS_FILE (`explainer precompute lookups`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    found = measure_lookups(lm)
    record = {k: v for k, v in vars(found).items() if k != "phrases"}
    write_measurement(LOOKUPS_FILE, LOOKUPS_REMAKE, lm.digest, {**record, "phrases": [vars(p) for p in found.phrases]})
    return str(LOOKUPS_FILE)


MIN_LOOKUPS = 20  # fewer occurrences (or ordinary windows) than this say nothing


@lru_cache(maxsize=4)
def lookups(lm: LanguageModel) -> AblationResult | NotMeasured:
    """measure_lookups, read from LOOKUPS_FILE when it was measured on these exact weights, else measured now on as
    many windows as the time budget allows (NotMeasured, saying why, when it allows too few or the tokenizer splits
    every answer)."""
    shipped = shipped_measurement(LOOKUPS_FILE, LOOKUPS_REMAKE, lm.digest)
    if shipped is not None:
        return AblationResult(**{**shipped, "phrases": [Phrase(**p) for p in shipped["phrases"]]})
    passes = 2 * lm.layout.n_layer + 1
    size = min(lm.block_size, LOOKUP_WINDOW)
    try:
        windows = budget.windows_for(lm.model, ORDINARY_WINDOWS, size, passes, least=2 * MIN_LOOKUPS)
        return measure_lookups(lm, ordinary_windows=windows // 2, occurrences=windows // 2)
    except ExplainerError as error:
        return NotMeasured(f"Not measured for this model: {error}.")


PART_NAMES = {"mlp": "MLP", "attn": "attention"}


def lookup_verdict(found: AblationResult | NotMeasured) -> Verdict:
    """Where the lookups live, as far as mean-ablation can tell: a part counts when ablating it costs the lookups at
    least SPECIFIC times what it costs ordinary text and at least MIN_EFFECT nats; a part whose ablation costs ordinary
    text BREAKS nats or more breaks the model, and says nothing about lookups."""
    if isinstance(found, NotMeasured):
        return Verdict(False, "the lookups live in the MLPs", found.reason)
    broken, specific = [], []
    for part in ("mlp", "attn"):
        for layer, (lookup, ordinary) in enumerate(zip(found.lookup_change[part], found.ordinary_change[part])):
            name = f"{PART_NAMES[part]} {layer}"
            if ordinary >= BREAKS:
                broken.append(f"{name} (ordinary text +{ordinary:.2f} nats)")
            elif lookup >= MIN_EFFECT and lookup >= SPECIFIC * max(ordinary, 0.0):
                specific.append((part, f"{name} (lookups +{lookup:.2f}, ordinary text +{ordinary:.2f})"))
    text = (f"Over {found.occurrences} occurrences of {len(found.phrases)} phrases in the validation text, the intact model "
            f"gives the answer a geometric-mean probability of **{found.recall:.0%}**. ")
    if broken:
        text += f"Ablating {', '.join(broken)} breaks the model on all text, so it tells nothing about where a lookup lives. "
    mlps = [name for part, name in specific if part == "mlp"]
    if specific:
        text += "Parts the lookups need beyond ordinary text: " + "; ".join(name for _, name in specific) + ". "
    else:
        text += (f"No other part costs the lookups {SPECIFIC:g}× what it costs ordinary text and at least {MIN_EFFECT:g} "
                 "nats. ")
    holds = bool(mlps)
    text += ("So in this model such lookups lean on the MLPs named, as the talk's facts do." if holds else
             "So the measurement does not place these lookups in the MLPs of this model.")
    return Verdict(holds, "the lookups live in the MLPs", text)


# ---------- a neuron that is not a linear function of its inputs' features ----------
# Attention at a fixed pattern is a weighted average of values: linear in them. The MLP's nonlinearity is where a
# vector gets features that are not sums of the features it has (an AND, an XOR). A neuron shows it when its activation
# over two yes/no features of the text is not a + b: a linear fit leaves a residual that the AND term explains.

INTERACTING = ("speaker's name", "start of a line")  # two features of the text (explainer.probes labels them)


def interaction_share(y: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """For each column of y [n, m]: the share of its variance that the AND term a·b explains beyond a linear fit
    c₀ + c₁a + c₂b (0: a sum of the two features; 1: all its variance is the interaction) [m]."""
    ones, a, b = torch.ones_like(y[:, 0]), a.float(), b.float()
    linear = torch.stack([ones, a, b], 1)
    full = torch.stack([ones, a, b, a * b], 1)
    residual = lambda X: ((y - X @ torch.linalg.lstsq(X, y).solution) ** 2).sum(0)
    total = ((y - y.mean(0)) ** 2).sum(0).clamp_min(1e-12)
    return (residual(linear) - residual(full)) / total


@dataclass
class NeuronInteraction:
    features: tuple[str, str]
    layer: int
    neuron: int
    means: torch.Tensor  # [2, 2]: the neuron's mean activation by (feature a, feature b), no/yes
    counts: torch.Tensor  # [2, 2]: tokens in each cell
    share: float  # interaction_share of its activation
    input_share: float  # ... of its input, before the nonlinearity
    shuffled: float  # the control: the largest share over every neuron with the two labels shuffled together
    tokens: int

    @property
    def interaction(self) -> float:
        """Both features' mean minus each alone's, plus neither's: 0 when the activation is a sum of the two."""
        m = self.means
        return float(m[1, 1] - m[1, 0] - m[0, 1] + m[0, 0])


def measure_nonlinear_neuron(lm: LanguageModel, seed: int = 0) -> NeuronInteraction:
    """Over windows of the validation text, the neuron whose activation the AND of two features explains most beyond
    their sum, with its input's share and, as control, the best any neuron reaches on shuffled labels."""
    from explainer import probes

    text = probes.labelled_text(lm, seed)
    a, b = (text.labels[feature] for feature in INTERACTING)
    order = torch.randperm(len(a), generator=torch.Generator().manual_seed(seed))
    layers = range(lm.layout.n_layer)
    found = probes.kept_activations(lm, text, [act_name(hook, l) for l in layers for hook in ("pre", "post")])
    best, shuffled = (-1.0, 0, 0), 0.0
    for layer in layers:
        pre, post = found[2 * layer], found[2 * layer + 1]  # [token, M]
        shares = interaction_share(post, a, b)
        shuffled = max(shuffled, float(interaction_share(post, a[order], b[order]).max()))
        neuron = int(shares.argmax())
        if float(shares[neuron]) > best[0]:
            best = (float(shares[neuron]), layer, neuron, float(interaction_share(pre[:, neuron:neuron + 1], a, b)[0]),
                    post[:, neuron])
    share, layer, neuron, input_share, activation = best
    cells = [[(a == i) & (b == j) for j in (False, True)] for i in (False, True)]
    means = torch.tensor([[float(activation[c].mean()) if c.any() else math.nan for c in row] for row in cells])
    counts = torch.tensor([[int(c.sum()) for c in row] for row in cells])
    return NeuronInteraction(INTERACTING, layer, neuron, means, counts, share, input_share, shuffled, len(a))


INTERACTION_FILE = DATA_DIR / "precomputed" / "nonlinear_neuron.json"
INTERACTION_REMAKE = "explainer precompute nonlinear-neuron"


def write_nonlinear_neuron() -> str:
    """Measure the shipped model and write INTERACTION_FILE (`explainer precompute nonlinear-neuron`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    found = measure_nonlinear_neuron(lm)
    write_measurement(INTERACTION_FILE, INTERACTION_REMAKE, lm.digest,
                      {**asdict(found), "means": found.means.tolist(), "counts": found.counts.tolist()})
    return str(INTERACTION_FILE)


@lru_cache(maxsize=4)
def nonlinear_neuron(lm: LanguageModel) -> NeuronInteraction:
    """measure_nonlinear_neuron, read from INTERACTION_FILE when it was measured on these exact weights (the shipped
    model), else measured now (about 2 s for the shipped model's size)."""
    shipped = shipped_measurement(INTERACTION_FILE, INTERACTION_REMAKE, lm.digest)
    if shipped is None:
        return measure_nonlinear_neuron(lm)
    return NeuronInteraction(**{**shipped, "features": tuple(shipped["features"]), "means": torch.tensor(shipped["means"]),
                                "counts": torch.tensor(shipped["counts"])})


NONLINEAR, ABOVE_SHUFFLED = 0.01, 5.0  # the AND explains at least 1 % of the variance, and 5× the best on shuffled labels


def nonlinear_verdict(found: NeuronInteraction) -> Verdict:
    """Is there a neuron whose activation is not a sum of the two features, beyond what shuffled labels give?"""
    a, b = found.features
    cells = "; ".join(f"{'' if i else 'not '}{a}, {'' if j else 'not '}{b}: {float(found.means[i, j]):+.2f} "
                      f"({int(found.counts[i, j]):,} tokens)" for i in (0, 1) for j in (0, 1))
    holds = found.share >= NONLINEAR and found.share >= ABOVE_SHUFFLED * found.shuffled
    return Verdict(holds, "a neuron computes a feature that is not a sum of two others",
                   f"Over {found.tokens:,} tokens of the validation text, neuron {found.neuron} of MLP {found.layer} has mean "
                   f"activation {cells}: both together minus each alone plus neither is {found.interaction:+.2f}, where a sum of "
                   f"the two would give 0. A linear fit from the two features leaves a residual that their AND explains: "
                   f"**{found.share:.0%}** of its variance (its input before the nonlinearity: {found.input_share:.0%}). "
                   f"With the labels shuffled, the best neuron of all reaches {found.shuffled:.1%}. "
                   + (f"So this neuron's activation is not a linear function of the two features (at least {NONLINEAR:.0%}, "
                      f"and {ABOVE_SHUFFLED:g}× the shuffled best)." if holds else
                      f"So no neuron here is clearly non-linear in these two features (thresholds {NONLINEAR:.0%} and "
                      f"{ABOVE_SHUFFLED:g}× the shuffled best)."))
