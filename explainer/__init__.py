"""explainer: how a transformer language model works, computed with real numbers."""

from explainer.errors import ExplainerError

__all__ = ["ExplainerError"]
__version__ = "0.1.0"
