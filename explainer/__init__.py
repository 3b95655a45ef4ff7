"""explainer: how a transformer language model works, computed with real numbers.

Layers, each importing only from those above it in this list:
    errors, files, paths, settings, style    foundation
    gpt/                                      the model you can train
    <concept>.py                              the maths of each idea (sampling, embeddings, geometry, attention, ...)
    figures/, video/                          what the learner sees: plotly figures and widgets; Manim pieces
    site.py, cli.py                           the gallery build and the command line
"""

from explainer.errors import ExplainerError

__all__ = ["ExplainerError"]
__version__ = "0.1.0"
