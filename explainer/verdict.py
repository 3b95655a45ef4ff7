"""A finding in words: what a measurement says once it is set beside its control, with the numbers and the threshold
it used. Notebooks show a Verdict as Markdown; chapters caption with its plain text. No sentence about what a model
does is typed: it is the text of a Verdict that a function computed."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    holds: bool  # whether the claim under test holds for these numbers
    claim: str  # the claim that was tested, in a few words
    text: str  # the finding, Markdown: numbers, control and threshold included

    def _repr_markdown_(self) -> str:
        return self.text

    @property
    def plain(self) -> str:
        """The text without Markdown emphasis, for a video caption."""
        return re.sub(r"\*+([^*]+)\*+", r"\1", self.text)


def times(a: float, b: float) -> str:
    """'2.3×' (how many times b is a), or 'far more than' when b is about 0."""
    return f"{a / b:.1f}×" if b > 1e-9 else "far more than"
