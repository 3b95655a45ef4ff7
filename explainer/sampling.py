"""The next token: softmax, temperature, top-k / top-p and sampling, and what they do to a model's distribution.

The decoding maths lives in `explainer.gpt.sampling` (generation needs it) and is re-exported here, so this module
is the one place to look for the concept. Softmax turns any list of scores ("logits") into probabilities:
exponentiate, then normalise. Dividing the logits by a temperature T first reshapes the distribution: T -> 0 puts
all the mass on the largest logit (greedy decoding), T = 1 is the model's own distribution, T -> infinity tends to
uniform over the finite logits. Last, the loop turned into a dialogue: a chat model is this loop with a script.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import torch

from explainer.errors import SamplingError
from explainer.gpt.sampling import (  # noqa: F401  (re-exported: this concept's public API)
    MAX_SEED, ArrayLike, as_logits, check_seed, check_temperature, make_generator, next_token_distribution, sample,
    softmax, top_k_filter, top_p_filter,
)
from explainer.verdict import Verdict


def entropy(probs: torch.Tensor, dim: int = -1, base: float = 2.0) -> torch.Tensor:
    """Shannon entropy of a distribution (bits by default); zero-probability entries add nothing."""
    probs = torch.as_tensor(probs)
    terms = torch.where(probs > 0, -probs * torch.log(probs), torch.zeros_like(probs))
    return terms.sum(dim=dim) / math.log(base)


def top_with_rest(logits: ArrayLike, temperature: float, show: int) -> tuple[list[int], list[float], float]:
    """The `show` highest logits' indices (an order that no temperature changes), their probabilities, and the rest's total."""
    tensor = as_logits(logits)
    probs = softmax(tensor, temperature)
    shown = torch.argsort(tensor, descending=True)[:show].tolist()
    shown_probs = probs[shown].tolist()
    return shown, shown_probs, max(0.0, 1.0 - sum(shown_probs))


def continuations(lm, prompt: str, temperatures: tuple[float, ...], new_tokens: int, seed: int = 0) -> dict[float, str]:
    """The text the model writes after `prompt` at each temperature (same seed for each)."""
    return {t: lm.generate(prompt, new_tokens, temperature=t, seed=seed) for t in temperatures}


@dataclass
class SamplingStep:
    """One turn of the generation loop: the text so far, the distribution's top tokens, and the token drawn."""

    text: str  # the prompt and every token drawn before this step
    tokens: list[str]  # the `top` most likely next tokens, most likely first, and the drawn one if it is not among them
    probs: list[float]  # their probabilities (after temperature)
    chosen: int  # index into tokens of the drawn token
    drawn: str


def sampling_steps(lm, prompt: str, steps: int, temperature: float = 1.0, seed: int = 0, top: int = 6) -> list[SamplingStep]:
    """The sampling loop made visible: draw a token from the distribution, append it, run the model again.
    The same seed gives the same tokens as lm.generate."""
    found, text = [], prompt
    for step in lm.stream(prompt, steps, temperature=temperature, seed=seed):
        best = torch.topk(step.probs, top).indices.tolist()
        if step.token_id not in best:
            best.append(step.token_id)
        drawn = lm.tokens([step.token_id])[0]
        found.append(SamplingStep(text, lm.tokens(best), [float(step.probs[i]) for i in best], best.index(step.token_id), drawn))
        text += drawn
    return found


# ---------- from predictor to dialogue ----------
# A chat model is this loop with a script: a seed text sets up two speakers, the user's line is appended with the
# assistant's name after it, and the model writes the assistant's turn one token at a time until it starts the next
# speaker's name, where the program stops and waits for the user. Our corpus is plays, so speakers are names in capitals
# on a line of their own ("PORTIA:"), exactly the format a chat template uses for "User:" and "Assistant:".

HEADER = re.compile(r"\n\n([A-Z][A-Za-z .,'&-]*):\n")  # a blank line, then a speaker's name on a line of its own


def script_text(user: str, assistant: str, exchanges: Sequence[tuple[str, str]]) -> str:
    """The seed: the user's and the assistant's lines in turn, in the plays' format, ending after the assistant's."""
    return "".join(f"{user}:\n{asked}\n\n{assistant}:\n{answered}\n\n" for asked, answered in exchanges)


def continuation_probability(lm, text: str, continuation: str) -> float:
    """p(the continuation's tokens | text): the model's probability of writing exactly those tokens next (the text is
    cut from the left, if needed, so that both fit the context)."""
    wanted = lm.tokenizer.encode(continuation)
    room = lm.block_size - len(lm.start) - len(wanted)
    if room < 1:
        raise SamplingError(f"{continuation!r} is {len(wanted)} tokens: it leaves no room in a context of {lm.block_size}")
    ids = lm.start + lm.tokenizer.encode(text)[-room:] + wanted
    with torch.no_grad():
        logits, _ = lm.model(torch.tensor([ids], device=lm.device))
    logp = torch.log_softmax(logits[0, -len(wanted) - 1:-1, :lm.vocab_size].float(), -1)
    return float(logp.gather(1, torch.tensor(wanted, device=logp.device)[:, None]).sum().exp())


@dataclass(frozen=True)
class NextSpeaker:
    """Who the model gives the next turn to, once the assistant's turn ends: p(that name's line) after the script, and
    after the control, the same lines with the user renamed."""

    names: tuple[str, str, str]  # the user, the stranger who replaces the user in the control, the assistant
    script: tuple[float, float, float]  # p(each name's line next) after the script
    control: tuple[float, float, float]  # ... after the control


def next_speaker(lm, user: str, assistant: str, stranger: str, exchanges: Sequence[tuple[str, str]]) -> NextSpeaker:
    names = (user, stranger, assistant)
    probs = lambda seed: tuple(continuation_probability(lm, seed, f"{name}:\n") for name in names)
    return NextSpeaker(names, probs(script_text(user, assistant, exchanges)), probs(script_text(stranger, assistant, exchanges)))


STEERS = 2.0  # the seed steers the next turn: a name's probability at least this many times what it is without it


def next_speaker_verdict(found: NextSpeaker) -> Verdict:
    """Does the name in the seed decide who speaks next? The user's line after the script against after the control,
    and the stranger's the other way round."""
    (user, stranger, assistant), script, control = found.names, found.script, found.control
    holds = script[0] >= STEERS * control[0] and control[1] >= STEERS * script[1]
    return Verdict(holds, "the seed decides who speaks next",
                   f"After the script, the model gives the next turn to **{user}** with probability **{script[0]:.1%}** "
                   f"(to {stranger} {script[1]:.1%}, to {assistant} again {script[2]:.1%}). With the same lines asked by "
                   f"{stranger} instead, {user} gets {control[0]:.1%} and **{stranger}** **{control[1]:.1%}** "
                   f"({assistant} {control[2]:.1%}). "
                   + (f"So the names in the seed steer the dialogue: each asker's name is at least {STEERS:g}× likelier to "
                      "come next when it is the one in the script." if holds else
                      f"So renaming the asker does not move the next turn by {STEERS:g}× both ways: this model does not "
                      "follow the script's names."))


@dataclass(frozen=True)
class ChatTurn:
    prompt: str  # the script, the user's line, and the assistant's name
    reply: str  # what the model wrote for the assistant, up to the next speaker's name
    next_name: str | None  # the speaker it began next (where a chat program stops), or None if it did not begin one


def chat_turn(lm, user: str, assistant: str, exchanges: Sequence[tuple[str, str]], line: str, new_tokens: int = 40,
              temperature: float = 0.8, seed: int = 0) -> ChatTurn:
    """One turn of the chat loop: append the user's line and the assistant's name, generate, stop at the next name.
    The script keeps as many of its last exchanges, whole, as fit the context with the new line."""
    turn = f"{user}:\n{line}\n\n{assistant}:\n"
    room = lm.block_size - len(lm.start)
    kept = next((k for k in range(len(exchanges), 0, -1)
                 if len(lm.tokenizer.encode(script_text(user, assistant, exchanges[-k:]) + turn)) <= room), 0)
    prompt, _ = lm.fit(script_text(user, assistant, exchanges[len(exchanges) - kept:]) + turn)
    written = lm.generate(prompt, new_tokens, temperature=temperature, seed=seed)
    header = HEADER.search(written)
    return ChatTurn(prompt, written[:header.start()] if header else written, header.group(1) if header else None)
