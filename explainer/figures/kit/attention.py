"""Attention on the kit: every head of one prompt sent once, the choices among them made in the page.

    view = AttentionView(found.patterns, found.tokens, scores=found.scores)   # [layer, head, query, key]
    view.select(layer=2, head=1)

The page draws what js/attention.js computes from these numbers: the chosen head's pattern (the softmax re-applied to
the scores at another temperature), and for StepsView the scale, the mask variant, the query's row and the facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import ARRAY_SYNC, Array, as_float32
from explainer.figures.kit.widget import KitWidget
from explainer.style import display_token

if TYPE_CHECKING:  # the views take its numbers; importing it (and torch) is left to the code that makes them
    from explainer import attention

TEMPERATURES = (0.05, 5.0, 0.05)  # the temperature slider: lowest, highest, step


def check_grids(name: str, array, count: int | None = None) -> None:
    """[layer, head, query, key] with as many queries and keys as tokens (`count`)."""
    if array.ndim != 4 or array.shape[2] != array.shape[3] or (count is not None and array.shape[2] != count):
        expected = f"[layer, head, {count}, {count}]" if count is not None else "[layer, head, query, key], square"
        raise FigureDataError(f"{name} must be {expected}, got shape {tuple(array.shape)}")


def check_choice(name: str, value: int, count: int) -> int:
    if not 0 <= int(value) < count:
        raise FigureDataError(f"{name} must be 0 … {count - 1}, got {value}")
    return int(value)


def select_head(widget, layer: int | None, head: int | None, layers: int, heads: int) -> None:
    """Set a view's `layer` and `head` (None: kept), each checked against how many there are."""
    if layer is not None:
        widget.layer = check_choice("layer", layer, layers)
    if head is not None:
        widget.head = check_choice("head", head, heads)


def check_temperature(value: float) -> float:
    low, high, _ = TEMPERATURES
    if not low <= float(value) <= high:
        raise FigureDataError(f"the temperature must be {low} … {high}, got {value}")
    return float(value)


class AttentionView(KitWidget):
    """Every head's attention pattern on one prompt as a dot grid (rows = queries; `transposed`: the talk's layout).
    Layer, head, temperature and layout are chosen in the page; the temperature needs `scores` (scaled, before the
    mask), to which the page re-applies the softmax. `captions`: a line per head, layer by layer, shown under the
    controls."""

    view = traitlets.Unicode("attention").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)  # as shown: spaces as ␣, newlines as ↵
    patterns = Array(allow_none=True).tag(**ARRAY_SYNC)  # [layer, head, query, key] at temperature 1
    scores = Array(allow_none=True).tag(**ARRAY_SYNC)  # [layer, head, query, key], scaled, before the mask
    captions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    temperature = traitlets.Float(1.0).tag(sync=True)
    transposed = traitlets.Bool(False).tag(sync=True)
    temperature_range = traitlets.Tuple(default_value=TEMPERATURES).tag(sync=True)

    def __init__(self, patterns=None, tokens: Sequence[str] = (), scores=None, layer: int = 0, head: int = 0,
                 temperature: float = 1.0, transposed: bool = False, captions: Sequence[str] = ()):
        super().__init__()
        if patterns is not None:
            self.show(patterns, tokens, scores, captions)
        self.select(layer, head, temperature, transposed)

    def show(self, patterns, tokens: Sequence[str], scores=None, captions: Sequence[str] = ()) -> None:
        """A new prompt's numbers, sent in one message; the layer and head chosen stay."""
        patterns = as_float32(patterns, "patterns")
        check_grids("patterns", patterns, len(tokens))
        scores = None if scores is None else as_float32(scores, "scores")
        if scores is not None and scores.shape != patterns.shape:
            raise FigureDataError(f"scores must have the patterns' shape {tuple(patterns.shape)}, got {tuple(scores.shape)}")
        layers, heads = patterns.shape[:2]
        if captions and len(captions) != layers * heads:
            raise FigureDataError(f"captions: one per head ({layers} × {heads}), got {len(captions)}")
        with self.hold_sync():
            self.tokens = [display_token(token) for token in tokens]
            self.patterns, self.scores, self.captions = patterns, scores, list(captions)
            self.layer, self.head = min(self.layer, layers - 1), min(self.head, heads - 1)

    def select(self, layer: int | None = None, head: int | None = None, temperature: float | None = None,
               transposed: bool | None = None) -> None:
        """Choose from Python, as the page's controls do."""
        layers, heads = self.patterns.shape[:2] if self.patterns is not None else (1, 1)
        with self.hold_sync():
            select_head(self, layer, head, layers, heads)
            if temperature is not None:
                self.temperature = check_temperature(temperature)
            if transposed is not None:
                self.transposed = bool(transposed)


class StepsView(KitWidget):
    """One head step by step, from every head's numbers on one prompt (attention.PromptSteps): the pattern's dots, the
    query's row as bars and the scores the softmax got, with the facts above them. Layer, head, query, temperature,
    ÷√d_k and the mask variant (attention.MASK_VARIANTS) are chosen in the page, which redoes scale, mask and softmax."""

    view = traitlets.Unicode("steps").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    d_k = traitlets.Int(1).tag(sync=True)
    scores = Array(allow_none=True).tag(**ARRAY_SYNC)  # QKᵀ [layer, head, query, key], not scaled
    residual_norms = Array(allow_none=True).tag(**ARRAY_SYNC)  # |e| [layer, query]
    value_gram = Array(allow_none=True).tag(**ARRAY_SYNC)  # [layer, head, key, key]
    reads = Array(allow_none=True).tag(**ARRAY_SYNC)  # [layer, head, query, key]
    mask_variants = traitlets.List(traitlets.Tuple(traitlets.Unicode(), traitlets.Unicode())).tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query = traitlets.Int(0).tag(sync=True)
    temperature = traitlets.Float(1.0).tag(sync=True)
    scaled = traitlets.Bool(True).tag(sync=True)
    mask = traitlets.Unicode("minus_inf").tag(sync=True)
    temperature_range = traitlets.Tuple(default_value=TEMPERATURES).tag(sync=True)

    def __init__(self, found: attention.PromptSteps | None = None, layer: int = 0, head: int = 0, query: int | None = None,
                 temperature: float = 1.0, scaled: bool = True, mask: str = "minus_inf"):
        from explainer.attention import MASK_VARIANTS

        super().__init__()
        self.mask_variants = list(MASK_VARIANTS.items())
        if found is not None:
            self.show(found)
            self.select(layer, head, len(found.tokens) - 1 if query is None else query, temperature, scaled, mask)

    def show(self, found: attention.PromptSteps) -> None:
        """A new prompt's numbers, sent in one message."""
        scores = as_float32(found.scores, "scores")
        check_grids("scores", scores, len(found.tokens))
        with self.hold_sync():
            self.tokens = [display_token(token) for token in found.tokens]
            self.d_k, self.scores = found.d_k, scores
            self.residual_norms, self.value_gram, self.reads = found.residual_norms, found.value_gram, found.reads
            self.query = min(self.query, len(found.tokens) - 1)

    def select(self, layer: int | None = None, head: int | None = None, query: int | None = None,
               temperature: float | None = None, scaled: bool | None = None, mask: str | None = None) -> None:
        """Choose from Python, as the page's controls do."""
        layers, heads, n = self.scores.shape[:3] if self.scores is not None else (1, 1, 1)
        variants = dict(self.mask_variants)
        if mask is not None and mask not in variants:
            raise FigureDataError(f"mask must be one of {', '.join(variants)}, got {mask!r}")
        with self.hold_sync():
            select_head(self, layer, head, layers, heads)
            if query is not None:
                self.query = check_choice("query", query, n)
            if temperature is not None:
                self.temperature = check_temperature(temperature)
            if scaled is not None:
                self.scaled = bool(scaled)
            if mask is not None:
                self.mask = mask
