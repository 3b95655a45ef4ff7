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


# The same word in different senses, in lines of the plays (the talk's "mole", and Shakespeare's own ambiguities).
WORD_CONTEXTS = {
    "mole": ["My father had a mole upon his brow.", "Well said, old mole! canst work i' the earth so fast?",
             "Upon his neck a mole, a sanguine star;", "Pray you, tread softly, that the blind mole may not"],
    "light": ["But soft, what light through yonder window breaks?", "Are his wits safe? is he not light of brain?",
              "Give us a light there, ho!", "No more light answers. Let our officers"],
    "grave": ["I would that I were low laid in my grave:", "Thy grave admonishments prevail with me:",
              "To Juliet's grave; for there must I use thee.", "You grave but reckless senators, have you thus"],
    "kind": ["And to do that well craves a kind of wit:", "A little more than kin, and less than kind.",
             "Than let him so be lost. O most kind maid,", "Because she will admit no kind of suit,"],
    "fair": ["So foul and fair a day I have not seen.", "No, fair princess; he is the general challenger: I",
             "I have fair meanings, sir.", "I will cut thy throat, one time or other, in fair"],
    "bear": ["And bear him home for his recovery.", "the bear half dined on the gentleman: he's at it",
             "Sirrah, I will not bear these braves of thine.", "I pray you, take me up, and bear me hence"],
}

# Watching a model learn (notebook 03, `explainer train --live`): the prompt of its samples, and a line short enough
# to draw its attention character by character.
LIVE_PROMPT = "ROMEO:\n"
LIVE_LINE = "ROMEO:\nBut soft, what light"

# Its first line alone: short enough for an attention grid whose every dot can be read.
ROMEO_LINE = "ROMEO:\nBut soft, what light through yonder window breaks?"
