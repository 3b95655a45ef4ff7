"""Arrays as the page receives them: float32 in C order, their bytes sent once as a binary buffer beside their shape
({"shape", "dtype", "data"}), never as JSON lists. -inf and NaN travel as they are."""

from __future__ import annotations

import numpy as np
import traitlets

from explainer.errors import FigureDataError

MAX_BYTES = 64 * 2**20  # the most one array may send to the page: a browser tab holds every figure's numbers


def as_float32(values, name: str = "array") -> np.ndarray:
    """Any array (numpy, torch, nested lists) as a float32 numpy array in C order; refused above MAX_BYTES."""
    if hasattr(values, "detach"):  # a torch tensor, maybe on a GPU or needing grad
        values = values.detach().cpu().numpy()
    try:
        array = np.ascontiguousarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise FigureDataError(f"{name} must be an array of numbers, got {type(values).__name__} ({error})") from None
    if array.nbytes > MAX_BYTES:
        raise FigureDataError(f"{name} {tuple(array.shape)} is {array.nbytes / 2**20:.0f} MiB, more than the "
                              f"{MAX_BYTES / 2**20:.0f} MiB a figure may send to the page: show fewer tokens or heads")
    return array


def packed(array: np.ndarray | None) -> dict | None:
    """What the page receives for `array`: its shape, its type, and its bytes (a binary buffer of the message)."""
    if array is None:
        return None
    return {"shape": list(array.shape), "dtype": "float32", "data": memoryview(array).cast("B")}


def unpacked(message: dict | None) -> np.ndarray | None:
    """The array a `packed` message holds, as the page decodes it."""
    if message is None:
        return None
    return np.frombuffer(bytes(message["data"]), dtype=message["dtype"]).reshape(message["shape"])


class Array(traitlets.TraitType):
    """A widget value that is an array of numbers, kept as float32 and sent as bytes (tag it with ARRAY_SYNC)."""

    info_text = "an array of numbers"
    default_value = None

    def validate(self, obj, value):
        if value is None:
            if self.allow_none:
                return None
            self.error(obj, value)
        return as_float32(value, self.name)


ARRAY_SYNC = {"sync": True, "to_json": lambda value, widget: packed(value), "from_json": lambda value, widget: unpacked(value)}
