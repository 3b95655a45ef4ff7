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

# Its first line up to the last word: the forward pass and the logit lens follow what comes after "window" (notebook 02
# and the whole-machine chapter).
LENS_PROMPT = "ROMEO:\nBut soft, what light through yonder window"

# The prompt whose next-token guess is followed across the training snapshots (notebook 03 and its chapter).
SNAPSHOT_PROMPT = "ROMEO:\n"


@dataclass(frozen=True)
class Descent:
    """Gradient descent on the two-weight toy of explainer.learning: where it starts, its step size, how many steps."""

    start: tuple[float, float] = (-0.3, 2.5)
    learning_rate: float = 0.2
    steps: int = 150


DESCENT = Descent()


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


# The same word in two senses, each in four lines that settle the sense *before* the word: a causal model's token reads
# only what comes before it, so the word ends every line. Written for this project in the plays' manner (the talk's
# "mole" included: the model splits it into two tokens, and the notebook follows the last).
WORD_SENSES = {
    "light": {"brightness": ["The candle burns, and gives the room its light", "Draw back the curtain, let me see the light",
                             "The moon doth lend the sleeping world her light", "Bring forth a torch, for we must have some light"],
              "not heavy": ["My purse is empty, and my purse is light", "The feather weighs so little, it is light",
                            "His step upon the stair was soft and light", "This burden is not heavy, it is light"]},
    "grave": {"tomb": ["They dug the earth and laid him in his grave", "The churchyard keeps his bones within the grave",
                       "Weep not for him, he sleeps within his grave", "Go, sexton, dig the dead man's narrow grave"],
              "serious": ["The judge looked stern, his face was very grave", "These matters are not merry, they are grave",
                          "He spoke with solemn voice and looks most grave", "The senators are old and wise and grave"]},
    "bear": {"the animal": ["The hunters chased the wild and angry bear", "Within the forest roams the great brown bear",
                            "The dogs were loosed upon the chained bear", "He fled the stage, pursued by a hungry bear"],
             "to carry": ["This load is far too heavy for me to bear", "Such grief is more than any heart can bear",
                          "I have a message and a gift to bear", "The pain is sharp, but I will learn to bear"]},
    "kind": {"a sort": ["What manner of man is he, and of what kind", "Of beasts and birds I saw of every kind",
                        "These flowers are all of one sort and kind", "They are not of our blood, nor of our kind"],
             "gentle": ["She is so gentle, loving, and so kind", "He gave the beggar bread, for he was kind",
                        "Be gentle with the child, be soft, be kind", "I thank you, sir, your words are very kind"]},
    "mole": {"the animal": ["Beneath the garden digs the little mole", "The blind thing burrowing in the earth, the mole",
                            "The gardener curses every hill made by the mole", "Under the lawn there lives a velvet mole"],
             "a mark": ["Upon her cheek there is a small dark mole", "The doctor saw a spot upon his skin, a mole",
                        "Upon his neck a mark, a sanguine mole", "Her face was fair, save for one little mole"]},
}

# Watching a model learn (notebook 03, `explainer train --live`): the prompt of its samples, and a line short enough
# to draw its attention character by character.
LIVE_PROMPT = "ROMEO:\n"
LIVE_LINE = "ROMEO:\nBut soft, what light"

# Its first line alone: short enough for an attention grid whose every dot can be read.
ROMEO_LINE = "ROMEO:\nBut soft, what light through yonder window breaks?"


@dataclass(frozen=True)
class Dialogue:
    """The talk's chatbot as a scene from a play: a user, a helpful assistant, and the lines that set them up."""

    user: str = "PORTIA"  # the talk's "user"
    assistant: str = "NERISSA"  # the "helpful assistant": Portia's waiting-gentlewoman in The Merchant of Venice
    stranger: str = "ROSALIND"  # the control: the same lines asked by another heroine of a comedy
    exchanges: tuple[tuple[str, str], ...] = (("Nerissa, what news from Venice?", "A letter, madam, from Bassanio."),
                                              ("Read it to me, I pray thee.", "I will, sweet madam."))
    question: str = "What says my lord?"  # the user's next line, for one turn of the chat loop


DIALOGUE = Dialogue()
