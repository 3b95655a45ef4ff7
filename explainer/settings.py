"""The settings each idea is shown with, defined once, so that a video and a notebook show the same numbers.

Heads are not chosen here: which head follows the running example is measured (see `explainer.attention`).
"""

from dataclasses import dataclass

# A prompt whose next token the shipped Shakespeare model predicts with a spread-out distribution.
NEXT_TOKEN_PROMPT = "ROMEO:\nI will"

# The talk's running example for attention.
FLUFFY_PROMPT = "a fluffy blue creature roamed the verdant forest"

# A famous line for the forward pass, the logit lens and the loss at every position.
ROMEO_TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun."


@dataclass(frozen=True)
class NearOrthogonal:
    tolerance_degrees: float = 2.0  # the talk's "between 88 degrees and 92 degrees"
    d: int = 100  # the talk's "100 dimensional vectors"
    explorer_vectors: int = 500  # vectors in the histogram explorer and the video's optimised packing
    optimise_steps: int = 150
    dimensions: tuple[int, ...] = (10, 13, 17, 22, 28, 36, 46, 60, 77, 100, 129, 167, 215, 278, 359, 464, 599, 774, 1000,
                                   1292, 1668, 2154, 2783, 3594, 4642, 5995, 7743, 10_000, 12_915, 16_681, 20_000)
    histogram_dimensions: tuple[int, ...] = (2, 3, 10, 100, 1000)  # the video's sharpening histograms


NEAR_ORTHOGONAL = NearOrthogonal()
