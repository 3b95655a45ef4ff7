"""Designed examples: weights set by hand so that the talk's idea works exactly, run by the same functions that run
the trained model. Where our small model does not show an idea, a designed example shows what the idea would look
like, and the trained model's numbers show what it really does.

The talk's head: in "a fluffy blue creature roamed the verdant forest" the query of a noun asks "are there any
adjectives sitting in front of me?". Each word's vector holds a few named features (is it a noun, an adjective;
fluffy, blue, green, …) and its position as a point on a circle. The head's matrices:
- W_Q turns "noun" into a wish for adjectives, and copies the position circle;
- W_K turns "adjective" into the answer, and copies the position circle too,
so q·k = QUERY_GAIN² (noun asks, adjective answers) + POSITION_GAIN² cos(angle between the two positions): a noun
reads the adjectives in front of it, the nearest most;
- W_V picks the adjectives' colour and texture (fluffy, blue, green) and W_O writes them back into the same features,
so Δe of "creature" carries fluffy and blue, and Δe of "forest" carries green.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explainer import attention
from explainer.verdict import Verdict

SENTENCE = "a fluffy blue creature roamed the verdant forest"
FEATURES = ("determiner", "adjective", "noun", "verb", "fluffy", "blue", "green", "creature", "forest", "roaming",
            "position cos", "position sin")
WORD_FEATURES = {
    "a": {"determiner": 1}, "the": {"determiner": 1},
    "fluffy": {"adjective": 1, "fluffy": 1}, "blue": {"adjective": 1, "blue": 1},
    "verdant": {"adjective": 1, "green": 1},
    "creature": {"noun": 1, "creature": 1}, "forest": {"noun": 1, "forest": 1},
    "roamed": {"verb": 1, "roaming": 1},
}
POSITION_STEP = math.pi / 10  # radians between neighbouring positions on the circle
QUERY_GAIN, POSITION_GAIN = 3.0, math.sqrt(6.0)  # a noun's wish for adjectives; how much nearness counts
CARRIED = ("fluffy", "blue", "green")  # what the values carry: one head dimension each


@dataclass
class DesignedHead:
    words: list[str]
    features: tuple[str, ...]
    embedding: torch.Tensor  # e [n, C]: the words' features plus their positions
    weights: attention.HeadWeights
    steps: attention.AttentionSteps


def feature_index(name: str) -> int:
    return FEATURES.index(name)


def embed(words: list[str]) -> torch.Tensor:
    """Each word's named features, and its position as (cos, sin) of position × POSITION_STEP: [n, C]."""
    unknown = [w for w in words if w not in WORD_FEATURES]
    if unknown:
        raise ValueError(f"the designed head knows only the words {', '.join(WORD_FEATURES)}; not {', '.join(unknown)}")
    e = torch.zeros(len(words), len(FEATURES))
    for i, word in enumerate(words):
        for name, value in WORD_FEATURES[word].items():
            e[i, feature_index(name)] = value
        e[i, feature_index("position cos")] = math.cos(i * POSITION_STEP)
        e[i, feature_index("position sin")] = math.sin(i * POSITION_STEP)
    return e


def designed_weights(answers: tuple[str, ...] = ("adjective",), carried: tuple[str, ...] = CARRIED) -> attention.HeadWeights:
    """A head's matrices, as x @ W (rows: the features of FEATURES; columns: the head's 3 dimensions). A noun's query
    asks for words with one of the `answers` features in front of it; the values carry the `carried` features."""
    C, d = len(FEATURES), 3
    W_Q, W_K, W_V, W_O = torch.zeros(C, d), torch.zeros(C, d), torch.zeros(C, d), torch.zeros(d, C)
    W_Q[feature_index("noun"), 0] = QUERY_GAIN  # "are there adjectives …"
    for name in answers:
        W_K[feature_index(name), 0] = QUERY_GAIN  # "… I am one"
    for W in (W_Q, W_K):  # "… in front of me": positions on a circle, nearer means more aligned
        W[feature_index("position cos"), 1] = POSITION_GAIN
        W[feature_index("position sin"), 2] = POSITION_GAIN
    for slot, name in enumerate(carried):
        W_V[feature_index(name), slot] = 1.0
        W_O[slot, feature_index(name)] = 1.0
    zero = torch.zeros(d)
    return attention.HeadWeights(W_Q, W_K, W_V, zero, zero, zero, W_O)


def designed_head(sentence: str = SENTENCE) -> DesignedHead:
    """The designed head on a sentence of its words, every step computed by attention.head_steps (no LayerNorm: the
    head reads the features as they are)."""
    words = sentence.split()
    e = embed(words)
    weights = designed_weights()
    steps = attention.head_steps(words, list(range(len(words))), e, e, weights)
    return DesignedHead(words, FEATURES, e, weights, steps)


def designed_verdict(head: DesignedHead) -> Verdict:
    """What each noun of the designed sentence reads and what its Δe carries, from the computed pattern (Markdown)."""
    nouns = [i for i, w in enumerate(head.words) if WORD_FEATURES[w].get("noun")]
    adjectives = [i for i, w in enumerate(head.words) if WORD_FEATURES[w].get("adjective")]
    parts, holds = [], True
    for noun in nouns:
        row = head.steps.pattern[noun]
        before = [a for a in adjectives if a < noun]
        read = ", ".join(f"*{head.words[a]}* {float(row[a]):.2f}" for a in before)
        carried = ", ".join(f"{name} {float(head.steps.delta[noun, feature_index(name)]):+.2f}" for name in CARRIED)
        parts.append(f"*{head.words[noun]}* gives {read} (its adjectives take {float(row[before].sum()):.2f} of its "
                     f"attention) and its Δe adds {carried}")
        holds &= float(row[before].sum()) >= 0.9
    return Verdict(holds, "each noun reads the adjectives in front of it, and their features arrive in its vector",
                   "In the designed head, " + "; ".join(parts) + ".")


# ---------- why several heads: one softmax row is a blend ----------
# "a fluffy blue creature": the noun needs both adjectives. One head's row of weights sums to 1, so when a second
# adjective comes in, the first loses weight: its feature arrives at a fraction of its strength, a blend. Two heads, one
# asking for texture and one for colour, each put their whole row on their own adjective, and both arrive in full.

ONE_ADJECTIVE, TWO_ADJECTIVES = "a fluffy creature", "a fluffy blue creature"
KINDS = {"texture": ("fluffy",), "colour": ("blue", "green")}  # what each of the two heads asks for, and carries


@dataclass
class HeadsCase:
    """A sentence through the notebook-08 head alone, and through two heads that each ask for one kind of adjective."""

    words: list[str]
    one: attention.AttentionSteps  # the head that asks for any adjective
    two: dict[str, attention.AttentionSteps]  # kind → the head that asks for it

    def arrived(self, heads: str, word: str) -> dict[str, float]:
        """What the head(s) add to each carried feature of `word`'s vector ('one' or 'two', the heads' Δe summed)."""
        position = self.words.index(word)
        steps = [self.one] if heads == "one" else list(self.two.values())
        return {name: sum(float(s.delta[position, feature_index(name)]) for s in steps) for name in CARRIED}

    def weights(self, heads: str, word: str) -> dict[str, list[float]]:
        """Each head's weights from `word` to every word (head name → row)."""
        position = self.words.index(word)
        steps = {"one head": self.one} if heads == "one" else {f"{kind} head": s for kind, s in self.two.items()}
        return {name: s.pattern[position].tolist() for name, s in steps.items()}


def heads_case(sentence: str) -> HeadsCase:
    """The sentence through one head and through two, every step computed by attention.head_steps."""
    words = sentence.split()
    e = embed(words)
    run = lambda weights: attention.head_steps(words, list(range(len(words))), e, e, weights)
    return HeadsCase(words, run(designed_weights()),
                     {kind: run(designed_weights(answers, answers)) for kind, answers in KINDS.items()})


BLENDED, FULL = 0.75, 0.8  # one head: the first adjective keeps at most this share when a second comes; two: at least


def several_heads_verdict(alone: HeadsCase, both: HeadsCase, noun: str = "creature") -> Verdict:
    """With one head, does a second adjective take weight from the first (a blend), while two heads carry both in full?"""
    one_alone, one_both = alone.arrived("one", noun), both.arrived("one", noun)
    two_alone, two_both = alone.arrived("two", noun), both.arrived("two", noun)
    row = both.one.pattern[both.words.index(noun)]
    kept = one_both["fluffy"] / one_alone["fluffy"]
    holds = kept <= BLENDED and min(two_both["fluffy"], two_both["blue"], two_alone["fluffy"]) >= FULL
    return Verdict(holds, "one head blends two tokens that both matter; two heads carry both",
                   f"One head: *{noun}* gets fluffy {one_alone['fluffy']:+.2f} from “{ONE_ADJECTIVE}”, but in "
                   f"“{TWO_ADJECTIVES}” fluffy {one_both['fluffy']:+.2f} and blue {one_both['blue']:+.2f}: its row gives "
                   f"fluffy {float(row[both.words.index('fluffy')]):.2f} and blue {float(row[both.words.index('blue')]):.2f}, "
                   f"and a row sums to 1, so fluffy keeps **{kept:.0%}** of its strength. Two heads (one asks for texture, "
                   f"one for colour): fluffy {two_alone['fluffy']:+.2f} alone; fluffy **{two_both['fluffy']:+.2f}** and blue "
                   f"**{two_both['blue']:+.2f}** together. "
                   + (f"So a single head's output is a blend (at most {BLENDED:.0%} kept), and two heads give each token "
                      f"its own row (both at least {FULL:g})." if holds else
                      f"So the blend is not shown here (thresholds: one head keeps at most {BLENDED:.0%}, two heads carry "
                      f"both at least {FULL:g})."))


# ---------- why an MLP: attention is linear in what it reads ----------
# Three tokens: the first holds a yes/no feature a, the second b, the third asks for "a XOR b" (yes when exactly one is
# yes). A head can bring a and b into the third token's vector (communication), but with a pattern that does not
# depend on them, its output is a fixed weighted average of linear maps of the vectors: a linear function of a and b,
# and no linear function of a and b is their XOR. An MLP on the third token's vector computes it (computation).

XOR_FEATURES = ("a", "b", "one", "a seen", "b seen", "a xor b")  # "one" is 1 in every token, so affine maps count too
XOR_GAIN = 10.0  # how sharply the hand-set neurons switch on (the GELU is nearly a ReLU at this scale)


def xor_tokens(a: int, b: int) -> torch.Tensor:
    """The three tokens' vectors [3, 6]: a in the first, b in the second, the third asks."""
    x = torch.zeros(3, len(XOR_FEATURES))
    x[:, XOR_FEATURES.index("one")] = 1.0
    x[0, XOR_FEATURES.index("a")], x[1, XOR_FEATURES.index("b")] = float(a), float(b)
    return x


def xor_head(value: torch.Tensor, out: torch.Tensor) -> attention.HeadWeights:
    """A head with no query or key (every score 0, so the last token reads all three alike) whose value map is
    value [6, d] and output map out [d, 6]."""
    C, d = value.shape
    zero = torch.zeros(C, d)
    return attention.HeadWeights(zero, zero, value, torch.zeros(d), torch.zeros(d), torch.zeros(d), out)


def gathering_head() -> attention.HeadWeights:
    """Copies a and b into the last token's vector ("a seen", "b seen"); ×3 undoes the average over three tokens."""
    value, out = torch.zeros(len(XOR_FEATURES), 2), torch.zeros(2, len(XOR_FEATURES))
    for slot, (read, write) in enumerate((("a", "a seen"), ("b", "b seen"))):
        value[XOR_FEATURES.index(read), slot] = 3.0
        out[slot, XOR_FEATURES.index(write)] = 1.0
    return xor_head(value, out)


def run_head(weights: attention.HeadWeights, x: torch.Tensor) -> torch.Tensor:
    """The last token's vector after the head adds its Δe: [6]."""
    steps = attention.head_steps(["a", "b", "?"], [0, 1, 2], x, x, weights)
    return steps.updated[-1]


def best_linear_head() -> attention.HeadWeights:
    """The head (value map into "a xor b") whose output at the last token is closest to a XOR b over the four cases,
    by least squares: the pattern is fixed, so the output is linear in the value map's weights."""
    cases = [(a, b) for a in (0, 1) for b in (0, 1)]
    read = torch.stack([xor_tokens(a, b).mean(0) for a, b in cases])  # what the last token's row (⅓ each) averages [4, 6]
    target = torch.tensor([[float(a ^ b)] for a, b in cases])
    value = torch.linalg.lstsq(read, target).solution  # [6, 1]
    out = torch.zeros(1, len(XOR_FEATURES))
    out[0, XOR_FEATURES.index("a xor b")] = 1.0
    return xor_head(value, out)


def xor_mlp(x: torch.Tensor) -> torch.Tensor:
    """Two hand-set GELU neurons on "a seen" + "b seen" = s: (GELU(g·s) − 2·GELU(g·(s − 1))) / g is 0, 1, 0 for
    s = 0, 1, 2; written into "a xor b". Returns the vector with the MLP's output added [6]."""
    s = x[XOR_FEATURES.index("a seen")] + x[XOR_FEATURES.index("b seen")]
    neurons = F.gelu(torch.stack([XOR_GAIN * s, XOR_GAIN * (s - 1)]))
    added = torch.zeros_like(x)
    added[XOR_FEATURES.index("a xor b")] = (neurons[0] - 2 * neurons[1]) / XOR_GAIN
    return x + added


@dataclass
class XorCase:
    cases: list[tuple[int, int]]
    target: list[float]  # a XOR b
    attention: list[float]  # what the best possible head writes into "a xor b" (least squares)
    attention_then_mlp: list[float]  # the gathering head, then the MLP


def xor_case() -> XorCase:
    cases = [(a, b) for a in (0, 1) for b in (0, 1)]
    best, gather = best_linear_head(), gathering_head()
    slot = XOR_FEATURES.index("a xor b")
    return XorCase(cases, [float(a ^ b) for a, b in cases],
                   [float(run_head(best, xor_tokens(a, b))[slot]) for a, b in cases],
                   [float(xor_mlp(run_head(gather, xor_tokens(a, b)))[slot]) for a, b in cases])


WRONG, RIGHT = 0.4, 0.05  # attention alone misses by at least this somewhere; the MLP by at most this everywhere


def mlp_verdict(found: XorCase) -> Verdict:
    """Attention alone cannot give a XOR b; attention that gathers a and b, then an MLP, can."""
    attention_error = max(abs(o - t) for o, t in zip(found.attention, found.target))
    mlp_error = max(abs(o - t) for o, t in zip(found.attention_then_mlp, found.target))
    holds = attention_error >= WRONG and mlp_error <= RIGHT
    cases = lambda outputs: ", ".join(f"({a}, {b}) → {o:+.2f}" for (a, b), o in zip(found.cases, outputs))
    return Verdict(holds, "attention alone cannot compute XOR; an MLP after it can",
                   f"The best head (value map fitted by least squares, pattern fixed): {cases(found.attention)}, off by up "
                   f"to **{attention_error:.2f}**. The head that gathers a and b, then two GELU neurons: "
                   f"{cases(found.attention_then_mlp)}, off by at most **{mlp_error:.3f}**. "
                   + ("So a weighted average of linear maps cannot say “exactly one of the two”; a nonlinearity after it "
                      "can." if holds else f"So the designed case does not separate them (thresholds {WRONG:g} and {RIGHT:g})."))
