"""Two tokenizers: characters (nanoGPT's shakespeare-char) and anything the `tokenizers` library reads (byte-level
BPE trained locally or GPT-2's; the LLaMA family's tokenizer.json, SentencePiece-style ones included).

Both turn text into a list of integer ids and back, show each token as a string (with the space before a word
written as a space: " the", also where SentencePiece writes "▁the"), and serialise to a JSON-able dict that is
stored inside the checkpoint. `encode` gives the text's own tokens; a model that expects a beginning-of-text token
first (LLaMA, Mistral) names it in `bos_id`, and LanguageModel.encode puts it in front.
"""

from __future__ import annotations

import difflib
from collections import Counter
import json
from typing import Protocol

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from explainer.errors import ExplainerError


class UnknownCharacterError(ExplainerError, ValueError):
    """Text with characters the character-level tokenizer never saw in training."""


class TextTokenizer(Protocol):
    kind: str
    vocab_size: int
    bos_id: int | None  # the token the model expects before every text, if any

    def encode(self, text: str) -> list[int]: ...
    def readable(self, text: str) -> str: ...  # text it can encode, of the same length (positions into it still hold)
    def decode(self, ids: list[int]) -> str: ...
    def token_strings(self, ids: list[int]) -> list[str]: ...
    def to_dict(self) -> dict: ...


class CharTokenizer:
    """One token per character of the training text."""

    kind = "char"
    bos_id = None

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.vocab_size = len(self.chars)

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            hints = []
            for char in unknown[:5]:
                close = difflib.get_close_matches(char.lower(), self.chars, n=1)
                hints.append(f"{char!r}" + (f" (try {close[0]!r})" if close else ""))
            raise UnknownCharacterError(
                f"the text has characters this tokenizer never saw in training: {', '.join(hints)}. "
                f"Remove or replace them; the known characters are {''.join(self.chars)!r}"
            )
        if len(text) < 100_000:
            return [self.index[c] for c in text]
        # Long texts (a corpus): look every code point up at once, about ten times faster than a loop.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.zeros(max(map(ord, self.chars)) + 1, dtype=np.int64)
        table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        return table[codes].tolist()

    def readable(self, text: str) -> str:
        """`text` with each character this tokenizer never saw replaced by a space (or its first character): our
        validation text for a model trained on another (nanoGPT's tiny Shakespeare has no digits)."""
        unknown = set(text) - self.index.keys()
        filler = " " if " " in self.index else self.chars[0]
        return text.translate({ord(c): filler for c in unknown}) if unknown else text

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def token_strings(self, ids: list[int]) -> list[str]:
        return [self.chars[i] for i in ids]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "chars": self.chars}


SPACE_MARK = "\u2581"  # "▁": SentencePiece's mark for the space before a word


class BPETokenizer:
    """A `tokenizers` tokenizer: byte-level BPE (GPT-2 style, where any UTF-8 text encodes, so there is no unknown
    token) or the LLaMA family's."""

    kind = "bpe"

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size()
        self.bos_id = added_first_token(tokenizer)
        pre = tokenizer.pre_tokenizer  # byte-level splitting never joins two lines: long texts encode line by line
        self.lines_apart = tokenizer.normalizer is None and isinstance(pre, pre_tokenizers.ByteLevel) and pre.use_regex

    @classmethod
    def train(cls, text: str, vocab_size: int = 2048) -> BPETokenizer:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        )
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
        return cls(tokenizer)

    def encode(self, text: str) -> list[int]:
        """The text's tokens, without the special tokens a tokenizer may add around it."""
        if len(text) < 100_000 or not self.lines_apart:
            return self.tokenizer.encode(text, add_special_tokens=False).ids
        # Long texts: encode line by line in parallel. Byte-level pre-tokenization never merges across a
        # newline, so the ids are the same as encoding the whole text at once.
        encodings = self.tokenizer.encode_batch(text.splitlines(keepends=True), add_special_tokens=False)
        return [i for encoding in encodings for i in encoding.ids]

    def readable(self, text: str) -> str:
        return text  # byte-level: any text

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(list(ids))

    def token_strings(self, ids: list[int]) -> list[str]:
        """Each token as text: special tokens by name ("<s>"), the space before a word as a space (" the")."""
        strings = []
        for i in ids:
            text = self.tokenizer.decode([i], skip_special_tokens=False)
            piece = self.tokenizer.id_to_token(i) or ""
            marks = len(piece) - len(piece.lstrip(SPACE_MARK))
            spaces = len(text) - len(text.lstrip(" "))
            strings.append(" " * (marks - spaces) + text)  # SentencePiece decoders drop a text's first space
        return strings

    def to_dict(self) -> dict:
        return {"kind": self.kind, "tokenizer": json.loads(self.tokenizer.to_str())}


def added_first_token(tokenizer: Tokenizer) -> int | None:
    """The special token the tokenizer's post-processor puts before every text (LLaMA's "<s>"), or None."""
    plain = tokenizer.encode("a", add_special_tokens=False).ids
    full = tokenizer.encode("a")
    if len(full.ids) > len(plain) and full.special_tokens_mask[0] and full.ids[1:1 + len(plain)] == plain:
        return full.ids[0]
    return None


def train_tokenizer(kind: str, text: str, vocab_size: int = 2048) -> TextTokenizer:
    if kind == "char":
        return CharTokenizer.train(text)
    if kind == "bpe":
        return BPETokenizer.train(text, vocab_size)
    raise ExplainerError(f"tokenizer must be 'char' or 'bpe', got {kind!r}")


def tokenizer_from_dict(data: dict) -> TextTokenizer:
    if data.get("kind") == "char":
        return CharTokenizer(data["chars"])
    if data.get("kind") == "bpe":
        return BPETokenizer(Tokenizer.from_str(json.dumps(data["tokenizer"])))
    raise ExplainerError(f"unknown tokenizer kind {data.get('kind')!r} in checkpoint")


def word_forms(text: str) -> Counter:
    """Every word as a byte-level BPE sees it, with its count: letters only, with the space before it (' lord') or
    without one where none precedes it ('And' at the start of a line)."""
    split = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    forms = Counter()
    for line in text.splitlines():
        for piece, _ in split.pre_tokenize_str(line):
            word = piece.replace("Ġ", " ")
            if word.lstrip(" ").isalpha():
                forms[word] += 1
    return forms


def whole_word_share(tokenizer: TextTokenizer, text: str, top: int = 1000) -> float:
    """The share of the `top` most frequent word forms of `text` (see word_forms) that encode to exactly one token."""
    common = [word for word, _ in word_forms(text).most_common(top)]
    if not common:
        raise ExplainerError("the text has no words to measure")
    return sum(len(tokenizer.encode(word)) == 1 for word in common) / len(common)
