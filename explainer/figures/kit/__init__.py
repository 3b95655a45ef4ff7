"""The figure kit: figures whose numbers Python sends once, as binary buffers, and whose controls the page answers
itself, in JavaScript (js/, never Python strings), as bertviz and CircuitsVis do. No plotly inside; SVG drawn directly.

- stack.py: dot grids, value grids, bars, curves, text and rows of tokens (`dots`, `values`, `bars`, `curve`, `text`,
  `tokens`), one above the other in a `Stack` (or alone: DotGrid, ValueGrid, Bars, Curve), with sliders and drop-downs
  that choose along their arrays' leading axes (a layer, a head, a training step); `switch` shows other panels for
  each choice of a control (a word with its own lines).
- attention.py: AttentionView and StepsView, every head of one prompt at once.
- positions.py: RopeView, a query and a key rotated to positions chosen in the page.
- softmax.py: TemperatureBars, softmax(logits / T) as bars, T chosen in the page.
- plot.py: Plot, layers on x and y axes (linear or log): lines, step histograms, labelled points, arrows, a band, a
  vertical line (`lines`, `steps`, `points`, `arrows`, `band`, `vline`), chosen by the page's controls as panels are.
- descent.py: DescentView, gradient descent on the toy's cost surface redone in the page as its sliders move.
- live.py: LiveView, a training run's loss curves, moments, samples and patterns, looked back at in the page.
- export.py: a kit figure in a static page (the offline gallery), its controls working from file://.

What needs the kernel (a new prompt, model or sample) is a new value of a trait: the view redraws from the new numbers.
What the page chooses reaches the kernel once the learner leaves the controls, in one message, for Python to read.
"""

from explainer.figures.kit.arrays import unpacked
from explainer.figures.kit.attention import AttentionView, StepsView
from explainer.figures.kit.plot import Plot, arrows, band, lines, points, steps, vline
from explainer.figures.kit.positions import RopeView
from explainer.figures.kit.softmax import TemperatureBars
from explainer.figures.kit.stack import (Bars, Control, Curve, DotGrid, Stack, ValueGrid, bars, curve, dots, switch, text,
                                         tokens, values)
from explainer.figures.kit.widget import KitWidget

__all__ = ["AttentionView", "Bars", "Control", "Curve", "DotGrid", "KitWidget", "Plot", "RopeView", "Stack", "StepsView",
           "TemperatureBars", "ValueGrid", "arrows", "band", "bars", "curve", "dots", "lines", "points", "steps", "switch",
           "text", "tokens", "unpacked", "values", "vline"]
