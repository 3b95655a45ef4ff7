"""Directions that mean something: linear probes on the residual stream.

The talk's Q&A: feature directions, and "very clever ways that you can try to probe at what those feature directions
might be". A linear probe is the plainest: logistic regression from a token's residual vector to a yes/no feature of
the text, fitted on some windows of the validation text and scored on others. If a probe is accurate at a stage, the
feature can be read there along one direction, the probe's weight vector. The control is the same probe fitted on
shuffled labels (what a probe finds in noise), scored on the true ones.

Features come from the plays' format, labelled from the text itself:
- "speaker's name": the token is part of a speaker's name ("ROMEO" in "ROMEO:"), mostly readable from the token alone;
- "first line of a speech": the token is on the line right after a speaker's name, which the model can tell only by
  looking back past the line break;
- "start of a line": the token begins a line.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from explainer import geometry
from explainer.errors import ExplainerError
from explainer.files import shipped_measurement, write_measurement
from explainer.gpt import budget, data
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.hooks import act_name
from explainer.heads import measure_window, random_windows
from explainer.paths import DATA_DIR
from explainer.verdict import Verdict

# a speaker's name on a line of its own, after a blank line ("ROMEO:", "First Citizen:"), or first in the text
HEADER_LINE = re.compile(r"(?:\A|(?<=\n\n))([A-Z][A-Za-z .,'&-]*):[ \t]*$", re.M)
NAME, FIRST_LINE, LINE_START = "speaker's name", "first line of a speech", "start of a line"
FEATURES = (NAME, FIRST_LINE, LINE_START)
WINDOWS = 120  # random windows of the validation text (fewer if the model is slow)
TRAIN_SHARE = 0.7  # the first 70 % of the windows fit the probes; the rest score them
L2 = 1e-3  # weight decay of the probes (on standardised inputs)


def character_labels(text: str) -> dict[str, torch.Tensor]:
    """Each feature for every character of `text` [len(text)] (booleans)."""
    found = {feature: torch.zeros(len(text), dtype=torch.bool) for feature in FEATURES}
    for header in HEADER_LINE.finditer(text):
        found[NAME][header.start(1):header.end(1)] = True
        line_start = text.find("\n", header.end()) + 1
        if line_start and not HEADER_LINE.match(text, line_start):
            line_end = text.find("\n", line_start)
            found[FIRST_LINE][line_start:line_end if line_end >= 0 else len(text)] = True
    for line in re.finditer(r"^[ \t]*(\S)", text, re.M):
        found[LINE_START][line.start(1)] = True
    return found


def token_labels(tokens: list[str]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Each feature for every token [n] (a token has it if any of its visible characters has it), and which tokens
    have a visible character at all (tokens of spaces and line breaks are left out of the probes) [n]."""
    text = "".join(tokens)
    characters = character_labels(text)
    visible = torch.tensor([not c.isspace() for c in text], dtype=torch.bool)
    ends = torch.tensor([len(t) for t in tokens]).cumsum(0).tolist()
    starts = [0] + ends[:-1]
    labels = {feature: torch.tensor([bool((found[s:e] & visible[s:e]).any()) for s, e in zip(starts, ends)])
              for feature, found in characters.items()}
    return labels, torch.tensor([bool(visible[s:e].any()) for s, e in zip(starts, ends)])


@dataclass
class LabelledText:
    """Random windows of the validation text, and the features of every token that shows a character."""

    windows: list[list[int]]  # token ids, each window measure_window tokens
    visible: list[torch.Tensor]  # per window [T]: the tokens kept (spaces and line breaks are left out)
    labels: dict[str, torch.Tensor]  # feature → [kept token] booleans, window after window
    window: torch.Tensor  # [kept token]: which window each comes from


@lru_cache(maxsize=4)
def labelled_text(lm: LanguageModel, seed: int = 0) -> LabelledText:
    """As many windows as this model reads in the time budget (at most WINDOWS), labelled."""
    count = budget.windows_for(lm.model, WINDOWS, measure_window(lm), least=10)
    windows = random_windows(lm, data.validation_text(lm.tokenizer), count, seed)
    visible, labels, window = [], {feature: [] for feature in FEATURES}, []
    for index, ids in enumerate(windows):
        found, kept = token_labels(lm.tokens(ids))
        visible.append(kept)
        window.append(torch.full((int(kept.sum()),), index))
        for feature in FEATURES:
            labels[feature].append(found[feature][kept])
    return LabelledText(windows, visible, {f: torch.cat(v) for f, v in labels.items()}, torch.cat(window))


def kept_activations(lm: LanguageModel, text: LabelledText, names: list[str]) -> torch.Tensor:
    """The cache's `names` (all of one width) at every kept token: [name, kept token, width]. Only kept tokens are
    held, a batch of windows at a time."""
    kept, index = [], 0
    for cache in lm.scan(text.windows, names):
        batch = torch.stack([cache[name] for name in names], 1).float()  # [window, name, T, width]
        for window in batch:
            kept.append(window[:, text.visible[index]])
            index += 1
    return torch.cat(kept, 1)


@dataclass
class Activations:
    """The residual stream of every kept token at every stage, with the features' labels."""

    stages: list[str]  # "embedding", "after block 0", …
    vectors: torch.Tensor  # [stage, token, C]
    labels: dict[str, torch.Tensor]  # feature → [token] booleans
    window: torch.Tensor  # [token]: which window each token comes from
    windows: int


def residual_activations(lm: LanguageModel, seed: int = 0) -> Activations:
    """Random windows of the validation text through the model: the residual stream at every stage, and the labels."""
    text = labelled_text(lm, seed)
    layers = range(lm.layout.n_layer)
    names = [act_name("resid_pre", 0)] + [act_name("resid_post", l) for l in layers]
    stages = ["embedding" + (" + position" if lm.layout.W_pos is not None else "")] + [f"after block {l}" for l in layers]
    return Activations(stages, kept_activations(lm, text, names), text.labels, text.window, len(text.windows))


@dataclass
class Probe:
    """A logistic regression on standardised vectors: p(feature) = σ(((x − mean) / std) · weight + bias)."""

    mean: torch.Tensor  # [C]
    std: torch.Tensor  # [C]
    weight: torch.Tensor  # [C]
    bias: float

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std) @ self.weight + self.bias

    @property
    def direction(self) -> torch.Tensor:
        """The direction in the residual stream the probe reads (unit length): weight / std."""
        return F.normalize(self.weight / self.std, dim=0)


def fit_probe(x: torch.Tensor, y: torch.Tensor, steps: int = 30) -> Probe:
    """Logistic regression of y [n] on x [n, C], both classes weighted equally, with weight decay L2 (L-BFGS)."""
    if y.all() or not y.any():
        raise ExplainerError("a probe needs tokens with the feature and tokens without it; read more text")
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z, target = (x - mean) / std, y.float()
    positive = float(target.mean())
    weights = torch.where(y, 0.5 / positive, 0.5 / (1 - positive))
    weight = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = (F.binary_cross_entropy_with_logits(z @ weight + bias, target, reduction="none") * weights).mean()
        value = value + L2 * (weight ** 2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return Probe(mean, std, weight.detach(), float(bias.detach()))


def balanced_accuracy(scores: torch.Tensor, y: torch.Tensor) -> float:
    """The mean of the two classes' accuracies (0.5 for a guess, whatever the share of each class)."""
    said = scores > 0
    return 0.5 * (float(said[y].float().mean()) + float((~said[~y]).float().mean()))


@dataclass
class ProbeResult:
    feature: str
    stages: list[str]
    accuracy: list[float]  # balanced accuracy on the held-out windows, per stage
    shuffled: list[float]  # the same probe fitted on shuffled labels, per stage: the control
    directions: torch.Tensor  # [stage, C]: each stage's probe direction (unit length)
    share: float  # the share of tokens with the feature
    tokens: tuple[int, int]  # tokens that fit the probes, tokens that score them


def probe_feature(found: Activations, feature: str, seed: int = 0) -> ProbeResult:
    """A probe per stage for one feature, fitted on the first TRAIN_SHARE of the windows and scored on the rest, and
    the same on shuffled labels."""
    y = found.labels[feature]
    train = found.window < max(1, int(TRAIN_SHARE * found.windows))
    shuffled = y[train][torch.randperm(int(train.sum()), generator=torch.Generator().manual_seed(seed))]
    accuracy, control, directions = [], [], []
    for x in found.vectors:
        probe = fit_probe(x[train], y[train])
        accuracy.append(balanced_accuracy(probe.scores(x[~train]), y[~train]))
        control.append(balanced_accuracy(fit_probe(x[train], shuffled).scores(x[~train]), y[~train]))
        directions.append(probe.direction)
    return ProbeResult(feature, found.stages, accuracy, control, torch.stack(directions), float(y.float().mean()),
                       (int(train.sum()), int((~train).sum())))


def measure_probes(lm: LanguageModel, seed: int = 0) -> list[ProbeResult]:
    found = residual_activations(lm, seed)
    return [probe_feature(found, feature, seed) for feature in FEATURES]


PROBES_FILE = DATA_DIR / "precomputed" / "probes.json"
PROBES_REMAKE = "explainer precompute probes"


def write_probes() -> str:
    """Measure the shipped model and write PROBES_FILE (`explainer precompute probes`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    records = [{**asdict(r), "directions": r.directions.tolist()} for r in measure_probes(lm)]
    write_measurement(PROBES_FILE, PROBES_REMAKE, lm.digest, {"results": records})
    return str(PROBES_FILE)


@lru_cache(maxsize=4)
def probe_all(lm: LanguageModel) -> list[ProbeResult]:
    """measure_probes, read from PROBES_FILE when it was measured on these exact weights (the shipped model), else
    measured now (about 4 s for the shipped model's size)."""
    shipped = shipped_measurement(PROBES_FILE, PROBES_REMAKE, lm.digest)
    if shipped is None:
        return measure_probes(lm)
    return [ProbeResult(**{**r, "directions": torch.tensor(r["directions"]), "tokens": tuple(r["tokens"])})
            for r in shipped["results"]]


ABOVE_CHANCE = 0.2  # "held": balanced accuracy at least this far above the shuffled-label probe's


def probe_verdict(result: ProbeResult) -> Verdict:
    """Can a linear probe read the feature, and from which stage on, against probes fitted on shuffled labels?"""
    margins = [a - s for a, s in zip(result.accuracy, result.shuffled)]
    held = [stage for stage, margin in zip(result.stages, margins) if margin >= ABOVE_CHANCE]
    best = max(range(len(margins)), key=result.accuracy.__getitem__)
    trail = ", ".join(f"{stage} {a:.0%}" for stage, a in zip(result.stages, result.accuracy))
    text = (f"*{result.feature}* ({result.share:.0%} of tokens; probes fitted on {result.tokens[0]:,} tokens and scored on "
            f"{result.tokens[1]:,} others): balanced accuracy {trail}. Fitted on shuffled labels: "
            f"{min(result.shuffled):.0%} to {max(result.shuffled):.0%}. ")
    if held:
        text += (f"So the model holds this feature along one direction from **{held[0]}** on (at least "
                 f"{ABOVE_CHANCE:.0%} above the shuffled probe), best **{result.accuracy[best]:.0%}** {result.stages[best]}.")
    else:
        text += f"So no stage holds it linearly (nowhere {ABOVE_CHANCE:.0%} above the shuffled probe)."
    return Verdict(bool(held), f"a linear probe reads “{result.feature}” from the residual stream", text)


@dataclass
class DirectionCosines:
    stage: str
    features: list[str]
    cosines: torch.Tensor  # [feature, feature]
    d: int  # the residual stream's width
    random_share: list[float]  # per pair: the share of random pairs of directions in d dimensions closer to 90°


def direction_cosines(results: list[ProbeResult], stage: int = -1) -> DirectionCosines:
    """The cosines between the features' probe directions at one stage, each set beside random directions."""
    directions = torch.stack([r.directions[stage] for r in results])
    cosines = directions @ directions.T
    d = directions.shape[1]
    pairs = [(i, j) for i in range(len(results)) for j in range(i + 1, len(results))]
    return DirectionCosines(results[0].stages[stage], [r.feature for r in results], cosines, d,
                            [geometry.random_pair_within(abs(float(cosines[i, j])), d) for i, j in pairs])


NEARLY = 15.0  # degrees: "nearly perpendicular" means within 90° ± this
TYPICAL = 0.9  # "further from 90° than most random pairs": than this share of them


def directions_verdict(found: DirectionCosines) -> Verdict:
    """Are the features' directions nearly perpendicular (within 90° ± NEARLY), and how do they compare with random
    directions in as many dimensions?"""
    pairs = [(i, j) for i in range(len(found.features)) for j in range(i + 1, len(found.features))]
    angles = [math.degrees(math.acos(max(-1.0, min(1.0, float(found.cosines[i, j]))))) for i, j in pairs]
    parts = [f"*{found.features[i]}* and *{found.features[j]}* {angle:.0f}° (cos {float(found.cosines[i, j]):+.2f}; "
             f"{share:.0%} of random pairs are nearer 90°)" for (i, j), angle, share in zip(pairs, angles, found.random_share)]
    holds = max(abs(angle - 90) for angle in angles) <= NEARLY
    if not holds:
        finding = f"So at least one pair is further than {NEARLY:g}° from perpendicular: those features share part of a direction."
    elif max(found.random_share) > TYPICAL:
        finding = (f"So the features lie along nearly perpendicular directions (all within 90° ± {NEARLY:g}°), though one "
                   "pair is further from 90° than most random pairs: features that go together share a little of a direction.")
    else:
        finding = (f"So the features lie along nearly perpendicular directions (all within 90° ± {NEARLY:g}°), as near 90° "
                   "as most random directions are.")
    return Verdict(holds, "the features' directions are nearly perpendicular",
                   f"Angles between the probe directions {found.stage}, in {found.d} dimensions: " + "; ".join(parts) + ". "
                   + finding)
