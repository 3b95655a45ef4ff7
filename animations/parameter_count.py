"""GPT-3's 175,181,291,520 weights filling up, matrix kind by matrix kind, from the same tally as notebook 09."""

from manim import DOWN, LEFT, UP, FadeIn, GrowFromEdge, Rectangle, Scene, Text

from explainer.video.pieces import FONT
from explainer import scale

COLUMN_HEIGHT, COLUMN_WIDTH = 6.0, 2.2
BOTTOM = -3.4
COLORS = {"embedding": "#a855f7", "query": "#3b82f6", "key": "#06b6d4", "value": "#22c55e", "output": "#84cc16",
          "MLP up": "#f59e0b", "MLP down": "#ef4444", "unembedding": "#ec4899"}


def tally_data() -> dict[str, int]:
    """GPT-3's weights by kind (shared with the tests)."""
    return scale.tally(scale.GPT3)


class ParameterCount(Scene):
    def construct(self):
        counts = tally_data()
        total = sum(counts.values())
        title = Text(f"GPT-3: {total:,} weights", font=FONT, font_size=34).to_edge(UP, buff=0.25)
        subtitle = Text(f"attention (query, key, value, output) = {scale.attention_share(scale.GPT3):.1%}",
                        font=FONT, font_size=20).next_to(title, DOWN, buff=0.12)
        self.play(FadeIn(title))
        bottom = BOTTOM
        for kind, count in counts.items():
            height = COLUMN_HEIGHT * count / total
            segment = Rectangle(width=COLUMN_WIDTH, height=max(height, 0.02), stroke_width=0, fill_color=COLORS[kind], fill_opacity=1)
            segment.move_to([-2.5, bottom + height / 2, 0])
            label = Text(f"{kind}: {count:,} ({count / total:.1%})", font=FONT, font_size=18, color=COLORS[kind])
            label.move_to([1.6, bottom + height / 2, 0]).align_to([-1.1, 0, 0], LEFT)
            if height < 0.3:  # thin slices: keep labels apart
                label.shift(UP * (0.15 if kind == "unembedding" else -0.15))
            self.play(GrowFromEdge(segment, DOWN), FadeIn(label), run_time=0.5)
            bottom += height
        self.play(FadeIn(subtitle))
        self.wait(1)
