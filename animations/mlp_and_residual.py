"""The MLP and the residual stream: one token's vector through an MLP (up to the neurons, the GELU, back
down); a neuron as a question and an answer; every block adding to the running vector; and a lookup the MLPs hold."""

import numpy as np
from manim import DOWN, LEFT, UP, FadeIn, Line, Rectangle, ReplacementTransform, VGroup

from explainer import mlp, residual
from explainer.style import BAR_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, quoted
from explainer.video.pieces import GREY, ProbabilityBars, fit, token_row, typeset
from explainer.video.scene import Chapter

ROW_WIDTH = 12.0
PROMPT = "ROMEO:\nBut soft, what light through yonder window"


def pass_data(lm, options: dict) -> tuple[mlp.MLPPass, str]:
    """The last token of the line through the last layer's MLP (shared with the tests)."""
    prompt = options.get("prompt") or PROMPT
    layer = options.get("layer", lm.model.config.n_layer - 1)
    return mlp.mlp_pass(lm, prompt, layer, -1), prompt


def value_bars(values, y: float, height: float, color_by_sign: bool = True) -> VGroup:
    """A vector as a row of thin bars, one per number, up (positive) or down (negative) from a line at y."""
    values = np.asarray(values, dtype=float)
    top = max(np.abs(values).max(), 1e-9)
    slot = ROW_WIDTH / len(values)
    bars = VGroup(Line([-ROW_WIDTH / 2, y, 0], [ROW_WIDTH / 2, y, 0], color=GREY, stroke_width=1))
    for i, v in enumerate(values):
        h = max(1e-3, abs(v) / top * height)
        color = (BAR_COLOR if v >= 0 else NEGATIVE_COLOR) if color_by_sign else BAR_COLOR
        bars.add(Rectangle(width=slot * 0.8, height=h, stroke_width=0, fill_color=color, fill_opacity=1)
                 .move_to([-ROW_WIDTH / 2 + slot * (i + 0.5), y + (h / 2 if v >= 0 else -h / 2), 0]))
    return bars


def readable(tokens: list[str]) -> str:
    """Tokens joined back into text, line breaks shown as ↵ (as display_token does), the last token marked with ▸ ◂."""
    text = "".join(tokens[:-1]) + "▸" + tokens[-1] + "◂"
    return text.replace("\n", " ↵ ")


class MlpAndResidual(Chapter):
    def chapter(self):
        step, prompt = pass_data(self.lm, self.options)
        self.title_card("where most weights live, and the running vector every block adds to")
        token = step.tokens[step.position].strip()
        self.caption(f"After attention, every token's vector goes through a multi-layer perceptron on its own: “a couple "
                     f"matrix multiplications with a little nonlinear something”. We follow “{token}” through MLP {step.layer}.")
        row = token_row(step.tokens, 20).to_edge(UP, buff=0.4)
        self.play(FadeIn(row))
        read = value_bars(step.read, 1.8, 0.7)
        label = typeset(f"the vector it reads: {len(step.read)} numbers", font_size=20, color=GREY).next_to(read, UP, buff=0.05)
        self.play(FadeIn(read), FadeIn(label))
        self.hold("read", 1.5)
        up = value_bars(step.pre, 0.2, 0.9)
        up_label = typeset(f"up: {len(step.pre)} neurons, each a weighted sum of those numbers", font_size=20,
                        color=GREY).next_to(up, UP, buff=0.05)
        self.caption("First, multiply up: each of the neurons computes its own weighted sum of the vector's numbers.", read=False)
        self.play(FadeIn(up), FadeIn(up_label))
        self.pause(self.reading_time("First, multiply up: each neuron computes its own weighted sum."))
        gelu = value_bars(step.post, 0.2, 0.9)
        self.caption("Then the nonlinearity (a GELU): negative inputs are squashed to almost nothing, positive ones pass. "
                     f"Here {int((step.post > 0.1).sum())} of the {len(step.post)} neurons fire.", read=False)
        self.play(ReplacementTransform(up, gelu), run_time=1.5)
        self.hold("gelu", self.reading_time("negative inputs are squashed, positive ones pass, neurons fire"),
                  post=step.post.tolist())
        down = value_bars(step.added, -1.3, 0.5)
        down_label = typeset("down: what the MLP adds to the vector", font_size=20, color=GREY).next_to(down, UP, buff=0.02)
        self.caption(f"Then multiply back down to {len(step.added)} numbers: the change the MLP adds to the token's "
                     f"vector (length {float(step.added.norm()):.1f}, added to a vector of length {float(step.before.norm()):.1f}).")
        self.play(FadeIn(down), FadeIn(down_label))
        self.hold("added", 1.5)
        self.clear()

        neuron = int(step.post.argmax())
        firings = mlp.top_contexts(self.lm, step.layer, neuron, before=8)
        up_tokens, _ = mlp.promoted_tokens(self.lm, mlp.neuron_answer(self.lm, step.layer, neuron), 6)
        self.caption(f"One neuron is a question and an answer. The one that fires most here, neuron {neuron}: where in the "
                     "plays does its question get the strongest yes?")
        lines = VGroup(*[fit(typeset(f"{f.activation:5.2f}   " + readable(f.context), font_size=20), 12.4)
                         for f in firings[:4]]).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
        lines.move_to(UP * 1.0)
        self.play(FadeIn(lines, lag_ratio=0.2), run_time=1.5)
        self.hold("contexts", 2, neuron=neuron, activations=[f.activation for f in firings[:4]])
        answer = typeset("its answer raises: " + ", ".join(quoted(t) for t, _ in up_tokens), font_size=22,
                      color=POSITIVE_COLOR)
        self.play(FadeIn(fit(answer, 12.4).next_to(lines, DOWN, buff=0.5)))
        self.caption("When it fires it adds its output direction; read through the unembedding, that direction makes "
                     "these next tokens more likely.")
        self.clear()

        flow = residual.stream(self.lm, prompt)
        norms, added = flow.norms(-1), flow.added_norms(-1)
        self.caption("Neither attention nor the MLP ever replaces a vector: each adds to it. The running vector of "
                     f"“{token}”, after each of the {len(flow.stages)} stages:")
        labels = [s.replace("embedding + position", "embed").replace("+ attention", "attn").replace("+ MLP", "MLP") for s in flow.stages]
        bars = ProbabilityBars(labels, (norms / norms.max()).tolist(), height=3.2, highlight=-1, baseline=-1.4,
                               values=[f"{value:.1f}" for value in norms.tolist()])
        self.play(FadeIn(bars, lag_ratio=0.1), run_time=2)
        self.hold("stream", 2, norms=norms.tolist(), added=added.tolist())
        self.caption(f"Its length goes from {float(norms[0]):.1f} to {float(norms[-1]):.1f} as blocks add to it. Every block "
                     "reads it through a LayerNorm (mean 0 and spread 1, then a learned gain and bias), so each block's "
                     "input has a steady size whatever the stream's length.")
        self.clear()

        found = mlp.lookups(self.lm)
        example = found.phrases[0]
        self.caption(f"What can a Shakespeare model store? Not “Michael Jordan plays basketball”, but set phrases: after "
                     f"“{example.first} {example.second}” comes “{example.answer}”, which the word before alone does not decide.")
        names = [f"{mlp.PART_NAMES[p]} {l}" for p in ("mlp", "attn") for l in range(self.lm.model.config.n_layer)]
        changes = found.lookup_change["mlp"] + found.lookup_change["attn"]
        top = max(max(changes), 1e-6)
        lookup_bars = ProbabilityBars(names, [max(0.0, c) / top for c in changes], width=11.0, height=3.0, highlight=-1,
                                      baseline=-1.4, values=[f"{value:+.2f}" for value in changes])
        self.play(FadeIn(lookup_bars))
        self.hold("lookups", 2, changes=changes)
        for sentence in mlp.lookup_verdict(found).plain.split(". "):
            self.caption(sentence.rstrip(".") + ".")
        self.pause(2)
