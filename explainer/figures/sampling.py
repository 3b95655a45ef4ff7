"""Figures for the next token: a softmax playground, and a temperature slider over a model's real distribution (both on
the figure kit: the logits are sent once and the page applies the temperature)."""

from __future__ import annotations

import html
import math
from collections import Counter
from typing import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import sampling
from explainer.errors import LogitsError
from explainer.figures.common import Explorer, html_tokens, next_token_bars, prompt_box, row
from explainer.figures.kit import TemperatureBars
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import display_token, quoted


class TemperatureExplorer(Explorer):
    """A temperature slider reshaping a next-token distribution, and a button that samples from it.

    `tokens` and `logits` cover the whole vocabulary, sent to the page once; the page redoes the softmax for the
    temperature its slider chooses and shows the `show` most likely tokens and one bar for all the others together, so
    the bars always add up to 100%, with the top token and the entropy. Sampling needs the kernel: the button draws
    at the temperature the page chose.
    """

    def __init__(self, tokens: Sequence[str], logits, temperature: float = 1.0, title: str = "",
                 num_samples: int = 20, show: int = 12):
        super().__init__()
        self.num_samples, self.show = num_samples, show
        self.view = TemperatureBars(title=title or "next-token probabilities", temperature=temperature)
        self.seed = widgets.IntText(value=0, description="seed", layout=widgets.Layout(width="220px"))
        self.sample_button = widgets.Button(description=f"sample {num_samples} tokens", icon="random",
                                            layout=widgets.Layout(width="auto"))
        self.samples = widgets.HTML()
        self.on_click(self.sample_button, self.draw_samples)
        self.widget = widgets.VBox([self.view, row(self.sample_button, self.seed), self.samples, self.status])
        self.set_logits(tokens, logits)

    @property
    def temperature(self) -> float:
        """The temperature the page's slider chose."""
        return self.view.temperature

    def set_logits(self, tokens: Sequence[str], logits) -> None:
        """Show a new distribution (e.g. for a new prompt) at the current temperature; old samples are cleared."""
        logits = sampling.as_logits(logits).double()
        if logits.shape != (len(tokens),):
            raise LogitsError(f"need one logit per token: {len(tokens)} tokens, logits of shape {tuple(logits.shape)}")
        self.tokens, self.logits = list(tokens), logits
        shown, _, _ = sampling.top_with_rest(self.logits, 1.0, self.show)
        rest = len(self.tokens) - len(shown)
        caption = (f"<b>T = {{temperature}}</b> &nbsp; <b>top token</b>: {{top}} ({{top_probability}}) &nbsp; "
                   f"<b>entropy</b>: {{entropy}} bits (uniform over all {len(self.tokens):,} tokens would be "
                   f"{math.log2(len(self.tokens)):.2f})")
        self.view.show(logits, [display_token(self.tokens[i]) for i in shown], shown,
                       others=f"(other {rest:,})" if rest else "", caption=caption)
        self.samples.value = ""

    def draw_samples(self) -> list[str]:
        """Sample `num_samples` tokens at the page's temperature with the seed box's seed."""
        temperature = self.temperature
        draws = sampling.sample(self.logits, self.num_samples, temperature=temperature, seed=self.seed.value)
        words = [self.tokens[i] for i in draws.tolist()]
        counts = ", ".join(f"{html.escape(quoted(w))} ×{n}" for w, n in Counter(words).most_common())
        self.samples.value = (f"<code>{' | '.join(html.escape(display_token(w)) for w in words)}</code>"
                              f"<br>counts: {counts} (T = {temperature:.2f}, seed {self.seed.value})")
        return words


class NextTokenExplorer(Explorer):
    """A prompt box over a TemperatureExplorer fed by a trained model's real next-token logits."""

    def __init__(self, lm: LanguageModel, prompt: str, temperature: float = 1.0, num_samples: int = 20, show: int = 12):
        super().__init__()
        self.lm = lm
        self.vocabulary = lm.vocabulary()
        self.prompt = prompt_box(prompt)
        self.tokens = widgets.HTML()
        self.explorer = TemperatureExplorer(self.vocabulary, lm.next_token_logits(prompt), temperature,
                                            title="next token (trained model)", num_samples=num_samples, show=show)
        self.watch([self.prompt], self.update_prompt)
        self.widget = widgets.VBox([self.prompt, self.status, self.tokens, self.explorer.widget])
        self.safely(self.update_prompt)

    def update_prompt(self) -> None:
        ids = self.lm.encode(self.prompt.value)
        self.tokens.value = f"<small>{len(ids)} tokens: {html_tokens(self.lm.tokens(ids))}</small>"
        self.explorer.set_logits(self.vocabulary, self.lm.logits_after(ids))


def parse_numbers(text: str) -> list[float]:
    """'2, 1, -1, -inf' -> [2.0, 1.0, -1.0, -inf]; a clear error for anything else."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise LogitsError(f"type numbers separated by commas (e.g. 2, 1, -1, -inf), got {text!r}") from None
    if not numbers:
        raise LogitsError("type at least one number, e.g. 2, 1, -1, -inf")
    return numbers


class SoftmaxPlayground(Explorer):
    """Type any scores (negative, large, -inf) and see softmax's output as bars; the temperature slider is answered in
    the page. New scores go to the kernel, which parses them and sends them once."""

    def __init__(self, text: str = "2, 1, 0.5, -1, -inf", temperature: float = 1.0):
        super().__init__()
        self.text = widgets.Text(value=text, description="scores", continuous_update=False,
                                 layout=widgets.Layout(width="100%", max_width="480px"))
        self.view = TemperatureBars(title="softmax of the scores", temperature=temperature,
                                    caption="T = {temperature}: sum of probabilities = {sum}")
        self.watch([self.text], self.update)
        self.widget = widgets.VBox([self.text, self.status, self.view])
        self.safely(self.update)

    def update(self) -> None:
        scores = parse_numbers(self.text.value)
        sampling.softmax(scores)  # refuses what has no softmax (every score -inf, NaN, +inf) with its own message
        self.view.show(scores, [f"{i}: {s:g}" for i, s in enumerate(scores)])


def softmax_steps_table(scores: Sequence[float]) -> Table:
    """Softmax by hand, column by column (exp, then divide by the sum) beside `explainer.sampling.softmax`."""
    tensor = torch.tensor([float(s) for s in scores])
    return Table({
        "score z": tensor.tolist(),
        "exp(z)": torch.exp(tensor).tolist(),
        "exp(z) / sum": (torch.exp(tensor) / torch.exp(tensor).sum()).tolist(),
        "explainer.sampling.softmax": sampling.softmax(tensor).tolist(),
    }, formats={"score z": "{:g}"})


def temperature_table(lm: LanguageModel, prompt: str, temperatures: tuple[float, ...], top: int = 10) -> Table:
    """The `top` most likely next tokens' probabilities at each temperature, and each distribution's entropy."""
    logits = lm.next_token_logits(prompt)
    shown = torch.topk(logits, top).indices
    return Table({f"T={t:g}": sampling.softmax(logits, t)[shown].tolist() + [float(sampling.entropy(sampling.softmax(logits, t)))]
                  for t in temperatures}, index=[display_token(t) for t in lm.tokens(shown.tolist())] + ["entropy (bits)"])


def filter_table(lm: LanguageModel, prompt: str, top_k: int, top_p: float, top: int = 10) -> Table:
    """The `top` most likely next tokens at T = 1, unfiltered, after top-k and after top-p."""
    logits = lm.next_token_logits(prompt)
    shown = torch.topk(logits, top).indices
    return Table({
        "T=1": sampling.next_token_distribution(logits)[shown].tolist(),
        f"top-k={top_k}": sampling.next_token_distribution(logits, top_k=top_k)[shown].tolist(),
        f"top-p={top_p:g}": sampling.next_token_distribution(logits, top_p=top_p)[shown].tolist(),
    }, index=[display_token(t) for t in lm.tokens(shown.tolist())])


def continuations_html(prompt: str, texts: dict[float, str]) -> str:
    """Continuations at several temperatures, the prompt in grey."""
    rows = "".join(f"<p><b>T = {t:g}</b><br><span style='color:#6b7280'>{html.escape(prompt)}</span>{html.escape(text)}</p>"
                   for t, text in texts.items())
    return f"<div style='white-space:pre-wrap;font-family:monospace'>{rows}</div>"


def next_token_figure(lm: LanguageModel, prompt: str, top: int = 12, temperature: float = 1.0) -> go.Figure:
    """The model's most likely next tokens after `prompt`, as bars."""
    probs = sampling.softmax(lm.next_token_logits(prompt), temperature)
    best = torch.topk(probs, top)
    return next_token_bars(lm.tokens(best.indices.tolist()), best.values.tolist(), "the model's next-token distribution")


def chat_turn_html(turn: sampling.ChatTurn, user: str) -> str:
    """One turn of the chat loop: the prompt in grey, the model's reply, and where a chat program would stop."""
    if turn.next_name is None:
        stop = "It did not begin another speaker within the tokens asked for; a chat program would stop at the limit."
    elif turn.next_name == user:
        stop = f"Then it began a line for <b>{html.escape(user)}</b>, the user: a chat program stops here and waits."
    else:
        stop = (f"Then it began a line for <b>{html.escape(turn.next_name)}</b>, someone else: a chat program stops at "
                "any new speaker.")
    return (f"<div style='white-space:pre-wrap;font-family:monospace'><span style='color:#6b7280'>{html.escape(turn.prompt)}"
            f"</span><b>{html.escape(turn.reply)}</b></div><p>{stop}</p>")


def next_speaker_table(found: sampling.NextSpeaker) -> Table:
    """p(each name's line comes next) after the script and after the control."""
    user, stranger, _ = found.names
    return Table({name: [script, control] for name, script, control in zip(found.names, found.script, found.control)},
                 index=[f"the script ({user} asks)", f"the control ({stranger} asks)"],
                 formats=dict.fromkeys(found.names, "{:.1%}"))
