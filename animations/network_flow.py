"""A prompt flowing through our trained model: embedding, four blocks, unembedding, next-token probabilities.
Under each stage, what the last token's vector would predict if decoded there (the logit lens)."""

from manim import (DOWN, LEFT, RIGHT, UP, Arrow, FadeIn, GrowArrow, GrowFromEdge, Rectangle, RoundedRectangle, Scene,
                   Text, VGroup)

from explainer.video.pieces import FONT, token_label
from explainer import forward, sampling
from explainer.gpt import checkpoint
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, display_token

PROMPT = "ROMEO:\nBut soft, what light through yonder"
STAGE_COLOR = "#334155"
TOP = 5


def flow_data():
    """Prompt tokens, logit-lens rows per stage, and the final top tokens with probabilities (shared with the tests)."""
    lm = checkpoint.load()
    rows = forward.logit_lens(lm, PROMPT, top=1)
    probs = sampling.softmax(lm.next_token_logits(PROMPT))
    best = probs.topk(TOP)
    return lm.tokens(lm.encode(PROMPT)), rows, lm.tokens(best.indices.tolist()), best.values.tolist()


class NetworkFlow(Scene):
    def construct(self):
        tokens, rows, top_tokens, top_probs = flow_data()
        title = Text("one forward pass of our Shakespeare GPT", font=FONT, font_size=30).to_edge(UP, buff=0.2)
        prompt = VGroup(*[token_label(t, 14) for t in tokens]).arrange(RIGHT, buff=0.08).next_to(title, DOWN, buff=0.2)
        self.play(FadeIn(title), FadeIn(prompt))
        names = ["embedding\n+ position"] + [f"block {i}\nattn + MLP" for i in range(len(rows) - 1)] + ["unembed\n+ softmax"]
        stages = VGroup()
        for name in names:
            box = RoundedRectangle(width=1.45, height=1.0, corner_radius=0.12, stroke_color=BAR_COLOR, fill_color=STAGE_COLOR, fill_opacity=1)
            stages.add(VGroup(box, Text(name, font=FONT, font_size=14, line_spacing=0.8).move_to(box)))
        stages.arrange(RIGHT, buff=0.35).move_to([-1.6, 0.3, 0])
        arrows = VGroup(*[Arrow(a.get_right(), b.get_left(), buff=0.03, stroke_width=3, max_tip_length_to_length_ratio=0.3)
                          for a, b in zip(stages[:-1], stages[1:])])
        for stage, row, arrow in zip(stages, rows, [None, *arrows]):
            lens = Text(f"{display_token(row.top_tokens[0])}\n{row.top_probs[0]:.0%}", font=FONT, font_size=14,
                        color=HIGHLIGHT_COLOR, line_spacing=0.8).next_to(stage, DOWN, buff=0.15)
            self.play(*([GrowArrow(arrow)] if arrow else []), FadeIn(stage), FadeIn(lens), run_time=0.5)
        self.play(FadeIn(stages[-1]), GrowArrow(arrows[-1]), run_time=0.5)
        caption = Text("yellow: the last token's vector decoded at that stage (logit lens)", font=FONT, font_size=14,
                       color=HIGHLIGHT_COLOR).next_to(stages, DOWN, buff=0.85)
        self.play(FadeIn(caption))
        bars = VGroup()
        for i, (token, p) in enumerate(zip(top_tokens, top_probs)):
            bar = Rectangle(width=max(0.02, 2.2 * p / top_probs[0]), height=0.32, stroke_width=0,
                            fill_color=HIGHLIGHT_COLOR if i == 0 else BAR_COLOR, fill_opacity=1)
            bar.move_to([4.6, 1.0 - 0.45 * i, 0], aligned_edge=LEFT)
            label = Text(f"{display_token(token)} {p:.0%}", font=FONT, font_size=14).next_to(bar, LEFT, buff=0.1)
            bars.add(VGroup(bar, label))
        self.play(*[GrowFromEdge(b[0], LEFT) for b in bars], *[FadeIn(b[1]) for b in bars])
        self.wait(1)
