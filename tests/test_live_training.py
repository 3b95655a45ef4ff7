"""Watching a model learn: the moments on constructed histories (each both ways), the measurements against hand
computations, the live trainer's Train / Pause / Reset in-process and in a kernel (an interrupt stops it, a shutdown
leaves no thread), the page's widget, and Ctrl-C or SIGTERM during `explainer train`."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import sent_messages
from explainer import attention, learning
from explainer.errors import ExplainerError
from explainer.gpt import budget, checkpoint, data
from explainer.gpt.model import GPT, GPTConfig
from explainer.gpt.tokenizer import CharTokenizer
from explainer.gpt.train import TrainConfig, Trainer, saved_config
from lab import wait_for

CONTROLS = learning.Controls("character", 65, unigram_entropy=3.3, previous_token_chance=0.06, unigram_real_words=0.25)


def measured(step: int, val_loss: float = 4.0, previous: float = 0.1, words: tuple[int, int] = (1, 10),
             head: tuple[int, int] = (1, 2)) -> learning.Measurement:
    """A measurement whose best previous-token head is `head` with share `previous` (the others below it)."""
    share = np.full((2, 4), previous / 2)
    share[head] = previous
    return learning.Measurement(step, val_loss, share, share / 2, "sample", words[0], words[1], np.zeros((2, 4, 3, 3)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "plays.txt"
    path.write_text(data.shakespeare_text()[:300_000], encoding="utf-8")
    return path


def tiny(corpus: Path, **overrides) -> TrainConfig:
    """A character model small enough to take dozens of steps a second, evaluated (and watched) every 5 steps."""
    settings = dict(n_layer=1, n_head=2, n_embd=16, block_size=32, tokenizer="char", batch_size=4, max_iters=100_000,
                    learning_rate=3e-3, warmup_iters=2, eval_interval=5, eval_iters=2, corpus=str(corpus))
    return TrainConfig(**{**settings, **overrides})


# ---------- the moments, on constructed histories ----------

def test_the_loss_moment_is_the_first_evaluation_below_the_unigram_entropy():
    history = [measured(0, 4.2), measured(200, 3.4), measured(400, 3.25), measured(600, 3.5), measured(800, 3.0)]
    moment = learning.unigram_moment(history, CONTROLS)
    assert moment.step == 400 and moment.kind == "unigram"
    assert "3.25" in moment.text and "3.30" in moment.text and f"{math.log(65):.2f}" in moment.text
    assert learning.unigram_moment(history[:2], CONTROLS) is None
    assert learning.unigram_moment([measured(0, 3.3)], CONTROLS) is None, "equal is not below"


def test_the_previous_token_moment_names_the_head_that_crossed():
    history = [measured(0, previous=0.1), measured(200, previous=0.45, head=(0, 1)), measured(400, previous=0.62, head=(1, 3))]
    moment = learning.previous_token_moment(history, CONTROLS)
    assert moment.step == 400 and "layer 1 head 3" in moment.text and "62%" in moment.text and "6%" in moment.text
    assert moment.label == "previous-character head (layer 1, head 3)"
    assert learning.previous_token_moment(history[:2], CONTROLS) is None
    assert learning.previous_token_moment([measured(0, previous=0.5)], CONTROLS) is None, "at the threshold is not over it"


def test_the_words_moment_counts_the_samples_real_words():
    history = [measured(0, words=(3, 30)), measured(200, words=(15, 30)), measured(400, words=(16, 30))]
    moment = learning.words_moment(history, CONTROLS)
    assert moment.step == 400 and "16 of the sample's 30 words (53%)" in moment.text and "25%" in moment.text
    assert learning.words_moment(history[:2], CONTROLS) is None, "exactly half is not more than half"
    assert learning.words_moment([measured(0, words=(0, 0))], CONTROLS) is None, "a sample without words"


def test_moments_come_in_the_order_they_happened_and_the_rest_say_how_close_they_came():
    history = [measured(0, 4.2, 0.1, (2, 20)), measured(200, 3.1, 0.2, (12, 20)), measured(400, 2.9, 0.3, (13, 20))]
    assert [(m.kind, m.step) for m in learning.find_moments(history, CONTROLS)] == [("unigram", 200), ("words", 200)]
    waiting = learning.not_yet(history, CONTROLS)
    assert len(waiting) == 1 and "layer 1 head 2: 30%" in waiting[0] and waiting[0].startswith("step 400")
    assert len(learning.not_yet(history[:1], CONTROLS)) == 3


# ---------- the measurements, against hand computations ----------

def test_previous_token_scores_equal_a_hand_loop_over_run_with_cache():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=3, n_embd=12)).eval()
    with torch.no_grad():  # a previous-token head by hand: layer 1 head 0 reads only the key just before
        model.transformer.wpe.weight.mul_(30)
    windows = torch.randint(0, 11, (3, 8))
    share, weight = learning.previous_token_scores(model, windows)
    expected_share, expected_weight = np.zeros((2, 3)), np.zeros((2, 3))
    for window in windows:
        _, cache = model.run_with_cache(window[None])
        for layer in range(2):
            pattern = cache[f"blocks.{layer}.attn.hook_pattern"][0]  # [head, query, key]
            for head in range(3):
                for query in range(1, 8):
                    row = pattern[head, query, :query + 1]
                    expected_share[layer, head] += (int(row.argmax()) == query - 1) / (7 * 3)
                    expected_weight[layer, head] += float(row[query - 1]) / (7 * 3)
    np.testing.assert_allclose(share, expected_share, atol=1e-6)
    np.testing.assert_allclose(weight, expected_weight, atol=1e-6)


def test_real_words_unigram_entropy_and_the_chance_of_a_previous_token_head():
    vocabulary = frozenset({"thou", "art", "o"})
    assert learning.real_words("Thou art xqzv, O!\nART 3", vocabulary) == (4, 5)
    ids = np.array([0, 0, 1, 2])
    assert learning.unigram_entropy(ids, 5) == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
    chance = np.mean([1 / (i + 1) for i in range(1, 16)])  # a random earlier key is the previous one with 1/(i + 1)
    assert attention.uniform_previous_token_weight(16) == pytest.approx(chance)


def test_the_thread_trial_keeps_the_faster_count_and_tries_again_later():
    from explainer.gpt.device import ThreadTrial

    for two, one, kept in ((0.02, 0.03, 2), (0.2, 0.03, 1)):  # an idle machine; another program holding a core
        trial = ThreadTrial(2, window=3, every=4)
        counts = [trial.threads]
        for _ in range(6):
            counts.append(trial.record(two if counts[-1] == 2 else one))
        assert counts == [2, 2, 2, 1, 1, 1, kept]
        for _ in range(4):
            counts.append(trial.record(None))
        assert counts[-5:] == [kept] * 4 + [2], "after `every` steps it tries again"
    single = ThreadTrial(1, window=3, every=4)
    assert {single.record(0.1) for _ in range(20)} == {1}


def test_a_corpus_is_encoded_the_same_by_the_fast_path(corpus):
    text = corpus.read_text(encoding="utf-8")
    tokenizer = CharTokenizer.train(text)
    assert len(text) > 100_000 and tokenizer.encode(text) == [tokenizer.index[c] for c in text]


def test_the_watcher_measures_the_model_it_watches(corpus):
    trainer = Trainer(tiny(corpus))
    watcher = learning.Watcher(trainer)
    watcher.measure()
    first = watcher.measurements[0]
    assert first.step == 0 and first.val_loss == trainer.history["val_loss"][-1]
    lm = checkpoint.LanguageModel(trainer.model, trainer.tokenizer)
    assert first.sample == lm.generate(watcher.prompt, watcher.sample_tokens, temperature=learning.SAMPLE_TEMPERATURE, seed=0)
    np.testing.assert_allclose(first.pattern, attention.prompt_attention(lm, watcher.line).patterns.numpy())
    assert (first.real_words, first.words) == learning.real_words(first.sample, watcher.vocabulary)
    entropy = learning.unigram_entropy(trainer.train_ids, trainer.tokenizer.vocab_size)
    assert watcher.controls.unigram_entropy == pytest.approx(entropy)
    assert 0 < watcher.controls.unigram_real_words < 1


# ---------- the live trainer, in-process ----------

def test_pause_saves_the_step_reached_training_continues_from_it_and_reset_starts_again(corpus, tmp_path):
    seen: list[learning.Progress] = []
    live = learning.LiveTraining(tiny(corpus), tmp_path / "run", threads=1, on_progress=seen.append)
    first_weights = {k: v.clone() for k, v in live.trainer.model.state_dict().items()}
    assert live.progress().state == "ready" and live.progress().step == 0 and set(live.progress().kept) == {0}
    live.start()
    wait_for(lambda: live.trainer.step >= 12, 120, "12 steps")
    live.stop()
    paused = live.trainer.step
    assert not live.running and seen[-1].state == "paused" and seen[-1].step == paused
    saved = checkpoint.load(tmp_path / "run")
    assert saved.meta["step"] == paused and saved.meta["history"]["step"][:3] == [0, 5, 10]
    for name, value in live.trainer.model.state_dict().items():
        torch.testing.assert_close(saved.model.state_dict()[name], value)
    # kept at step 0 and at evaluations that double the step, saved as the checkpoint's snapshots
    assert [step for step in checkpoint.snapshot_steps(tmp_path / "run") if step <= 10] == [0, 5, 10]
    kept = checkpoint.load(tmp_path / "run", step=0)
    for name, value in first_weights.items():
        torch.testing.assert_close(kept.model.state_dict()[name], value.half().float())
    assert [p.step for p in seen] == sorted(p.step for p in seen)

    live.start()  # continues: same record, later steps
    wait_for(lambda: live.trainer.step >= paused + 6, 120, "6 more steps")
    live.stop()
    steps = live.trainer.history["step"]
    assert steps == sorted(set(steps)) and steps[-1] > paused and live.trainer.train_curve["step"][0] == 0
    assert checkpoint.load(tmp_path / "run").meta["step"] == live.trainer.step

    live.reset()
    assert live.trainer.step == 0 and [m.step for m in live.watcher.measurements] == [0] and set(live.kept) == {0}
    for name, value in first_weights.items():
        torch.testing.assert_close(live.trainer.model.state_dict()[name], value)


def test_the_kept_steps_are_zero_the_doublings_and_the_moments(corpus, tmp_path):
    live = learning.LiveTraining(tiny(corpus), tmp_path / "run", threads=1)
    for step, moment in ((5, False), (10, False), (15, False), (20, False), (25, True), (40, False)):
        live.trainer.step = step
        live.watcher.moments = [learning.Moment("words", 25, "", "")] if moment else []
        live.keep()
    assert sorted(live.kept) == [0, 5, 10, 20, 25, 40]


def test_a_finished_run_says_so_and_a_loaded_model_keeps_training_untouched(corpus, tmp_path):
    live = learning.LiveTraining(tiny(corpus, max_iters=3), tmp_path / "short", threads=1)
    live.start()
    wait_for(lambda: not live.running, 120, "the run to finish")
    assert live.progress().state == "finished" and live.trainer.step == 3
    with pytest.raises(ExplainerError, match="finished at step 3; press Reset"):
        live.start()

    loaded = checkpoint.load(tmp_path / "short")
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    more = learning.LiveTraining(tiny(corpus), tmp_path / "more", start=loaded, threads=1)
    assert more.trainer.step == 3 and more.config.learning_rate == more.config.min_lr and more.config.n_embd == 16
    more.start()
    wait_for(lambda: more.trainer.step >= 6, 120, "3 more steps")
    more.stop()
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in before.items()), "the loaded model is untouched"
    assert not torch.equal(more.trainer.model.transformer.wte.weight, loaded.model.transformer.wte.weight)


def test_a_model_too_large_for_the_memory_at_hand_is_refused(corpus):
    model = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=1, n_head=2, n_embd=16))
    config = tiny(corpus)
    needed = learning.training_memory(model, config)
    assert needed > 16 * model.num_parameters()
    learning.check_trainable(model, config, available=10 * needed)
    with pytest.raises(learning.TrainingMemoryError, match="needs about .* GiB, more than 80% of the"):
        learning.check_trainable(model, config, available=needed)



def test_a_model_too_slow_to_evaluate_while_the_page_waits_is_refused(corpus, monkeypatch):
    """Its evaluation reads 2 × eval_iters batches: refused when that takes longer than a notebook cell should, at the
    speed the model measures here (as measured for a 124 M GPT-2 on this machine: about 56 s)."""
    model = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=1, n_head=2, n_embd=16))
    config = tiny(corpus)
    tokens = 2 * config.eval_iters * config.batch_size * config.block_size
    monkeypatch.setattr(budget, "tokens_per_second", lambda m: tokens / (budget.SECONDS - 1))
    learning.check_watchable(model, config)
    monkeypatch.setattr(budget, "tokens_per_second", lambda m: tokens / (7 * budget.SECONDS))
    with pytest.raises(budget.TooSlowError, match=f"would take about {7 * budget.SECONDS:.0f} s here"):
        learning.check_watchable(model, config)

# ---------- the page's widget, in-process ----------

def test_the_live_trainer_widget_trains_pauses_looks_back_and_resets(corpus, tmp_path):
    """Each progress sends the page the counters and curves; the kept steps' and the latest patterns and samples when a
    measurement adds them; looking back, the layer and the head are choices among them, one small message each."""
    from explainer.figures.kit import unpacked
    from explainer.figures.kit.live import NOW
    from explainer.figures.learning import LiveTrainer

    view = LiveTrainer(sizes={"test": tiny(corpus)}, out_dir=tmp_path)
    page = view.view
    state = lambda name: page.get_state()[name]
    assert view.status.value == "" and "ready" in page.counters and page.kept_steps == [0], "one step kept: no slider yet"
    first = unpacked(state("latest_pattern"))
    view.train_button.click()
    wait_for(lambda: view.live.trainer.step >= 12, 120, "12 steps")
    view.pause_button.click()
    progress = view.live.progress()
    assert "paused" in page.counters and str(tmp_path / "test") in page.counters
    assert unpacked(state("batch_steps")).tolist() == list(progress.curve[0])
    np.testing.assert_allclose(unpacked(state("validation_losses")), progress.evaluations[1], rtol=1e-6)
    latest = unpacked(state("latest_pattern"))
    np.testing.assert_allclose(latest, progress.latest.pattern, rtol=1e-6)
    assert not np.allclose(latest, first), "the pattern changed as it trained"
    assert page.kept_steps[:3] == [0, 5, 10] and page.kept_steps == sorted(progress.kept)
    kept = unpacked(state("kept_patterns"))
    np.testing.assert_allclose(kept[1], progress.kept[5].pattern, rtol=1e-6)
    assert "the sample at step 5" in page.kept_samples[1] and "kept" in page.kept_samples[1]
    assert "now" in page.latest_sample and f"step {progress.latest.step:,}" in page.latest_sample
    sent = sent_messages(page)
    page.select(look_back=5, head=1)
    assert [(data["state"], buffers) for data, buffers in sent] == [({"look_back": 5, "head": 1}, [])], "choices only"
    assert view.progress is progress or view.progress.step == progress.step
    view.reset_button.click()
    assert "ready" in page.counters and "step 0" in page.counters and len(unpacked(state("batch_steps"))) == 0
    assert page.kept_steps == [0] and page.look_back == NOW and view.status.value == ""


# ---------- in a kernel: an interrupt stops training, a shutdown leaves no thread ----------

@pytest.mark.slow
def test_a_kernel_interrupt_stops_training_and_a_shut_down_kernel_leaves_no_thread(corpus, tmp_path):
    from jupyter_client.manager import start_new_kernel

    exit_file = tmp_path / "threads at exit.json"
    manager, client = start_new_kernel(kernel_name="python3")

    outputs: list = []

    def run(code: str) -> str:
        outputs.clear()
        reply = client.execute_interactive(code, timeout=120, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok", reply["content"]  # (an interrupt that lands in a cell fails it)
        return "".join(o["content"].get("text", "") for o in outputs if o["msg_type"] == "stream")

    try:
        names = "json.dumps([t.name for t in threading.enumerate()])"
        run(f"import atexit, json, threading\n"  # registered first, so it runs after explainer's own exit handler
            f"atexit.register(lambda: open({str(exit_file)!r}, 'w').write({names}))")
        run(f"from explainer.figures.learning import LiveTrainer\nfrom explainer.gpt.train import TrainConfig\n"
            f"view = LiveTrainer(sizes={{'test': {tiny(corpus)!r}}}, out_dir={str(tmp_path)!r})\n"
            f"view.train_button.click()")

        def steps() -> int:
            return int(run("print(view.live.trainer.step if view.live.running else -1)").split()[-1])

        wait_for(lambda: steps() >= 5, 120, "the kernel's training to take 5 steps")
        manager.interrupt_kernel()  # JupyterLab's ■ on an idle kernel
        wait_for(lambda: steps() == -1, 60, "the interrupt to stop training")
        stopped = checkpoint.read_config(tmp_path / "test")["step"]
        assert int(run("print(view.live.trainer.step)").split()[-1]) == stopped >= 5
        # between cells the kernel ignores SIGINT again (a cell sees the handler it will get back as saved_sigint_handler)
        idle_handler = "import signal\nprint(get_ipython().kernel.saved_sigint_handler {} signal.SIG_IGN)"
        wait_for(lambda: run(idle_handler.format("is")).split()[-1] == "True", 30, "the kernel's own handler back")
        run("view.train_button.click()")  # training continues after the interrupt
        wait_for(lambda: steps() >= stopped + 5, 120, "training to continue")
        assert run("print(get_ipython().kernel.saved_sigint_handler == view.interrupts.interrupted)").split()[-1] == "True"
    finally:
        manager.shutdown_kernel(now=False)  # a shutdown request, as JupyterLab sends it
        client.stop_channels()
    threads = json.loads(exit_file.read_text())
    assert not [name for name in threads if name.startswith("explainer-live")] and "MainThread" in threads
    assert checkpoint.read_config(tmp_path / "test")["step"] >= stopped + 5, "stopping at exit saved the step reached"


# ---------- Ctrl-C and SIGTERM during `explainer train` ----------

def start_training(out: Path, corpus: Path, *settings: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "explainer.cli", "train", "--preset", "tiny", "--out", str(out), "--quiet",
               "--set", f"corpus={corpus}", "--set", "max_iters=1000000"]
    for setting in settings:
        command += ["--set", setting]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_until(process: subprocess.Popen, text: str) -> list[str]:
    lines = []
    while not lines or text not in lines[-1]:
        line = process.stdout.readline()
        assert line, f"the run ended before printing {text!r}: {lines} {process.stderr.read()}"
        lines.append(line)
    return lines


@pytest.mark.parametrize("stop, code, before_first_evaluation", [(signal.SIGINT, 130, False), (signal.SIGTERM, 143, True)])
def test_stopping_explainer_train_saves_the_step_reached_and_says_how_to_resume(corpus, tmp_path, stop, code,
                                                                                 before_first_evaluation):
    out = tmp_path / "run"
    process = start_training(out, corpus, f"eval_interval={1_000_000 if before_first_evaluation else 5}")
    try:
        read_until(process, "training from step 0" if before_first_evaluation else "step 5: train loss")
        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == code and "Traceback" not in stderr, stderr
    last = stdout.strip().splitlines()[-1]
    step = int(last.split("stopped at step ")[1].split(":")[0].replace(",", ""))
    assert last == f"stopped at step {step:,}: checkpoint saved in {out}; continue with `explainer train --out {out} --resume`"
    lm = checkpoint.load(out)
    assert lm.meta["step"] == step and lm.generate("KING", 5, seed=0)
    assert lm.meta["history"]["step"] == ([] if before_first_evaluation else list(range(5, step, 5)))
    if before_first_evaluation:
        resumed = subprocess.run([sys.executable, "-m", "explainer.cli", "train", "--out", str(out), "--resume", "--quiet",
                                  "--set", f"max_iters={step + 3}"], capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert f"resuming from step {step}" in resumed.stdout and checkpoint.read_config(out)["step"] == step + 3
        assert saved_config(out).max_iters == step + 3 and saved_config(out).corpus == str(corpus)


def test_resume_takes_the_checkpoints_own_settings_not_a_preset(tmp_path, capsys):
    from explainer.cli import main

    assert main(["train", "--out", str(tmp_path), "--resume", "--preset", "baby"]) == 2
    assert "leave out --preset" in capsys.readouterr().err
