"""One exception type per user mistake; each message says what was wrong and what to do."""


class ExplainerError(Exception):
    """Base class: a mistake in the input that the user can fix."""


class TemperatureError(ExplainerError, ValueError):
    """A temperature that is negative, NaN or not a number."""


class LogitsError(ExplainerError, ValueError):
    """Logits that hold NaN or +inf, or a row with no finite entry."""


class SamplingError(ExplainerError, ValueError):
    """A bad top-k, top-p or sample count."""


class UnknownSceneError(ExplainerError, LookupError):
    """A scene name with no file under animations/."""


class FigureDataError(ExplainerError, ValueError):
    """Numbers a figure cannot show: the wrong shape, a label count that does not match, a choice out of range."""
