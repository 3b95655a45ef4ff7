"""The look shared by figures and videos: colours and how a token is shown."""

BAR_COLOR = "#3b82f6"  # a probability, a weight
HIGHLIGHT_COLOR = "#f59e0b"  # the one that matters: the top token, the chosen query
DOT_COLOR = "#2563eb"  # attention dots
MASKED_COLOR = "#d1d5db"  # masked (future) cells
POSITIVE_COLOR = "#16a34a"  # an added change (Δe), a direction
NEGATIVE_COLOR = "#dc2626"  # −∞, a removed or forbidden entry
FONT = "DejaVu Sans"  # installed with fonts-dejavu-core; Manim renders text with it


def display_token(token: str) -> str:
    """A token made visible: spaces as '␣', newlines as '↵'."""
    return token.replace("\n", "↵").replace(" ", "␣")


def quoted(token: str) -> str:
    """A token made visible and quoted, so that punctuation reads as a token in a list: “,” or “␣dear”."""
    return f"“{display_token(token)}”"
