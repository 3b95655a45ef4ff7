"""Scale: GPT-3's 175 billion weights built up by kind; the KV cache that spares generation repeated work;
and what the context costs."""

from manim import DOWN, LEFT, RIGHT, UP, FadeIn, GrowFromEdge, Rectangle, Square, VGroup

from explainer import scale
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, Change, token_row, typeset
from explainer.video.scene import Chapter

COLUMN_HEIGHT, COLUMN_WIDTH, BOTTOM = 4.5, 2.2, -1.55
COLORS = {"embedding": "#a855f7", "query": "#3b82f6", "key": "#06b6d4", "value": "#22c55e", "output": "#84cc16",
          "MLP up": "#f59e0b", "MLP down": "#ef4444", "unembedding": "#ec4899"}
GENERATED = ("To", " be", ",", " or", " not", " to", " be")
CELL = 0.42


def tally_data() -> dict[str, int]:
    """GPT-3's weights by kind (shared with the tests)."""
    return scale.tally(scale.GPT3)


class ScaleAndCost(Chapter):
    def chapter(self):
        counts = tally_data()
        total = sum(counts.values())
        self.title_card("where GPT-3's weights live, and what generating text costs")
        gpt3 = scale.GPT3
        self.caption(f"GPT-3: {gpt3.d_model:,}-dimensional vectors, {gpt3.n_layers} layers of {gpt3.n_heads} heads, "
                     f"an MLP of {gpt3.d_mlp:,} neurons in each, a vocabulary of {gpt3.vocab:,} tokens. Count every weight "
                     "matrix, kind by kind:", read=False)
        self.pause(self.reading_time("GPT-3 sizes, count every weight matrix, kind by kind"))
        bottom, segments = BOTTOM, VGroup()
        for kind, count in counts.items():
            height = COLUMN_HEIGHT * count / total
            segment = Rectangle(width=COLUMN_WIDTH, height=max(height, 0.02), stroke_width=0, fill_color=COLORS[kind], fill_opacity=1)
            segment.move_to([-3.0, bottom + height / 2, 0])
            label = typeset(f"{kind}: {count:,} ({count / total:.1%})", font_size=18, color=COLORS[kind])
            label.move_to([0.9, bottom + height / 2, 0]).align_to([-1.6, 0, 0], LEFT)
            if height < 0.3:  # thin slices: keep their labels apart
                label.shift(UP * (0.15 if kind == "unembedding" else -0.15))
            self.play(GrowFromEdge(segment, DOWN), FadeIn(label), run_time=0.7)
            segments.add(segment)
            bottom += height
        heading = typeset(f"{total:,} weights", font_size=30, color=HIGHLIGHT_COLOR).to_corner(UP + RIGHT, buff=0.4)
        self.play(FadeIn(heading))
        self.hold("tally", 2, counts=counts, column_height=COLUMN_HEIGHT, bottom=BOTTOM)
        mlp_share = (counts["MLP up"] + counts["MLP down"]) / total
        self.caption(f"The MLPs hold {mlp_share:.0%}; attention (query, key, value, output) {scale.attention_share(gpt3):.0%}: "
                     "the talk's “about one-third”, despite the title “Attention is all you need”.")
        self.clear()

        self.caption("Generating text repeats work: each new token reruns the model over everything before it. But the "
                     "keys and values of earlier tokens never change.")
        self.kv_cache()
        self.clear()

        self.caption(f"The price is memory. For GPT-3 at its full {gpt3.context:,}-token context, one sequence's cache, "
                     "in 16-bit numbers:", read=False)
        self.pause(self.reading_time("The price is memory. For GPT-3 at its full context, one sequence's cache"))
        rows = [("every head its own keys and values", gpt3.n_heads), ("grouped-query, 8 groups", 8), ("multi-query", 1)]
        table = VGroup(*[typeset(f"{name}: {scale.kv_cache_bytes(gpt3, gpt3.context, kv) / 2**30:.2f} GiB", font_size=26)
                         for name, kv in rows]).arrange(DOWN, aligned_edge=LEFT, buff=0.3).move_to(UP * 0.6)
        self.play(FadeIn(table, lag_ratio=0.3), run_time=1.5)
        self.hold("kv memory", 2, gib=[scale.kv_cache_bytes(gpt3, gpt3.context, kv) / 2**30 for _, kv in rows])
        self.caption("Why do transformers work so well? The talk gives four reasons, hedged: scale (bigger models on more "
                     "text keep getting better), parallelism (a whole passage at once suits GPUs), pre-training on text "
                     "with no labels, and tokens for anything.")
        self.pause(2)

    def kv_cache(self) -> None:
        """Token by token: the keys and values computed so far (kept), and the new token's row (the only new work)."""
        row = token_row(GENERATED[:1], 24).move_to([0, 2.4, 0])
        self.play(FadeIn(row))
        kept, work_done, work_recomputed = VGroup(), 0, 0
        for step in range(1, len(GENERATED) + 1):
            new = VGroup(Square(CELL, stroke_width=0, fill_color=POSITIVE_COLOR, fill_opacity=1),
                         Square(CELL, stroke_width=0, fill_color=BAR_COLOR, fill_opacity=1)).arrange(DOWN, buff=0.06)
            new.move_to([-4.5 + (step - 1) * (CELL + 0.08), 0.4, 0])
            work_done += 1
            work_recomputed += step
            readout = VGroup(typeset(f"token {step}: keys and values computed with the cache: {work_done}",
                                     font_size=22, color=POSITIVE_COLOR),
                             typeset(f"without it (recompute every token every step): {work_recomputed}",
                                     font_size=22, color=GREY)).arrange(DOWN, aligned_edge=LEFT).move_to([0.5, -1.0, 0])
            animations = [FadeIn(new, shift=DOWN * 0.3)]
            if step > 1:
                grown = token_row(GENERATED[:step], 24).move_to([0, 2.4, 0])
                animations += [Change(row, grown), Change(self.readout, readout)]
                row = grown
            else:
                animations.append(FadeIn(readout))
            self.play(*animations, run_time=0.8)
            self.readout = readout
            kept.add(new)
            self.hold(f"cache {step}", 0.8, cached=work_done, recomputed=work_recomputed)
        labels = VGroup(typeset("keys", font_size=18, color=POSITIVE_COLOR).next_to(kept[0][0], LEFT, buff=0.2),
                        typeset("values", font_size=18, color=BAR_COLOR).next_to(kept[0][1], LEFT, buff=0.2))
        self.play(FadeIn(labels))
        self.caption(f"With the cache each step computes only the new token's key and value: {len(GENERATED)} instead of "
                     f"{work_recomputed} here, n instead of n(n + 1)/2 in general. The talk: “clever caching”.")
