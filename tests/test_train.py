"""Training, checkpoints, resume, DDP and the train/sample CLI, on the `tiny` preset and a small corpus."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from explainer import files
from explainer.gpt import checkpoint, data
from explainer.gpt.checkpoint import CheckpointError
from explainer.gpt.tokenizer import CharTokenizer, UnknownCharacterError
from explainer.gpt.train import estimate_loss, prepare_tokens, preset, snapshot_schedule, train


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "plays.txt"
    path.write_text(data.shakespeare_text()[:300_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("run") / "tiny"
    train(preset("tiny", corpus=str(corpus), max_iters=50, eval_interval=25), out, progress=False)
    return out


def test_corpus_is_a_readable_play_and_split_deterministically():
    text = data.shakespeare_text()
    assert len(text) > 4_000_000 and "**" not in text and "_Enter" not in text and "#" not in text
    assert "HAMLET:\nTo be, or not to be: that is the question:" in text
    split = data.train_val_split(text)
    assert len(split.val) / len(text) == pytest.approx(0.1, abs=0.001)
    assert split == data.train_val_split(text)


def test_a_play_in_markdown_becomes_speeches():
    markdown = ("# HAMLET\n\n## ACT I\n\n_Enter BERNARDO and FRANCISCO, two\nSentinels_\n\n**BERNARDO**  \n"
                "Who's there? _\\[Aside]_  \nNay, answer me: stand, and *unfold* yourself.\n\n_Exit_\n\n"
                "**FRANCISCO** \n\\--Long live the king!\n")
    assert data.markdown_to_play(markdown) == (
        "BERNARDO:\nWho's there?\nNay, answer me: stand, and unfold yourself.\n\nFRANCISCO:\n--Long live the king!\n")


def test_a_few_training_steps_lower_the_loss(trained):
    config = checkpoint.read_config(trained)
    vocab = config["model"]["vocab_size"]
    curve = config["train_curve"]["loss"]
    assert curve[0] > math.log(vocab) - 0.3  # starts near uniform
    assert config["history"]["val_loss"][-1] < curve[0] - 0.5
    assert config["step"] == 50 and config["history"]["step"] == [25, 50]


def test_checkpoint_round_trip_gives_identical_logits(trained, tmp_path, corpus):
    lm = checkpoint.load(trained)
    copy = tmp_path / "copy"
    checkpoint.save_weights(lm.model, copy / checkpoint.WEIGHTS_FILE)
    shutil.copy(trained / checkpoint.CONFIG_FILE, copy / checkpoint.CONFIG_FILE)
    again = checkpoint.load(copy)
    tokens = torch.tensor([lm.encode("ROMEO:\nBut soft, what light")])
    assert torch.equal(lm.model(tokens)[0], again.model(tokens)[0])
    # The saved weights are the trained ones: they reproduce the validation loss recorded at the end.
    config = checkpoint.read_config(trained)
    training = preset("tiny", **{k: v for k, v in config["training"].items() if k != "corpus"}, corpus=str(corpus))
    _, _, val_ids, _ = prepare_tokens(training, lm.tokenizer)
    loss = estimate_loss(lm.model, val_ids, training, torch.device("cpu"), lambda: torch.autocast("cpu", enabled=False))
    assert loss == pytest.approx(config["history"]["val_loss"][-1], abs=1e-3)


def test_snapshots_are_saved_and_load(trained):
    config = checkpoint.read_config(trained)
    steps = checkpoint.snapshot_steps(trained)
    assert steps == snapshot_schedule(50, 2) + [50] and steps[0] == 0
    first, last = checkpoint.load(trained, step=0), checkpoint.load(trained)
    tokens = torch.tensor([[1, 2, 3]])
    assert not torch.allclose(first.model(tokens)[0], last.model(tokens)[0])
    with pytest.raises(CheckpointError, match="no snapshot at step 7"):
        checkpoint.load(trained, step=7)
    assert all((trained / s["file"]).stat().st_size < (trained / "model.safetensors").stat().st_size for s in config["snapshots"])


def test_snapshots_share_their_config_and_tokenizer_until_the_config_changes(trained, tmp_path, monkeypatch):
    """A checkpoint's config is parsed once and its tokenizer built once for all its snapshots; a config written again
    (a retrain) is read again and gives a new tokenizer."""
    folder = tmp_path / "copy"
    shutil.copytree(trained, folder)
    parses = []
    monkeypatch.setattr(files.json, "loads", lambda text: parses.append(len(text)) or json.JSONDecoder().decode(text))
    first, last = checkpoint.load(folder, step=0), checkpoint.load(folder)
    checkpoint.snapshot_steps(folder), checkpoint.losses_at(folder, [0])
    assert first.tokenizer is last.tokenizer and first.meta is last.meta and len(parses) == 1
    config = checkpoint.read_config(folder)
    (folder / checkpoint.CONFIG_FILE).write_text(json.dumps(config) + "\n", encoding="utf-8")  # a retrain writes it anew
    again = checkpoint.load(folder, step=0)
    assert again.tokenizer is not first.tokenizer and again.encode("ROMEO:") == first.encode("ROMEO:")
    assert again.meta is not first.meta and again.meta == first.meta and len(parses) == 2


def test_resume_continues_the_step_count(trained, tmp_path, corpus):
    out = tmp_path / "resumed"
    shutil.copytree(trained, out)
    train(preset("tiny", corpus=str(corpus), max_iters=80, eval_interval=25), out, resume=True, progress=False)
    config = checkpoint.read_config(out)
    assert config["step"] == 80 and config["history"]["step"] == [25, 50, 75, 80]
    assert config["train_curve"]["step"][:5] == [0, 10, 20, 30, 40] and config["train_curve"]["step"][-1] == 70


def test_corrupt_or_foreign_checkpoints_are_named(trained, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="model.safetensors is not a readable safetensors file"):
        checkpoint.load(broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        checkpoint.load(broken)
    (broken / "config.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not an explainer checkpoint"):
        checkpoint.load(broken)
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        checkpoint.load(tmp_path / "empty")


def test_prompts_too_long_are_cropped_with_a_note_and_unknown_characters_refused(trained):
    lm = checkpoint.load(trained)
    with pytest.warns(UserWarning, match="only its last 32"):
        ids = lm.encode("word " * 100)
    assert len(ids) == 32
    with pytest.raises(Exception, match="prompt is empty"):
        lm.encode("")
    chars = CharTokenizer.train("hello world")
    with pytest.raises(UnknownCharacterError, match=r"'H' \(try 'h'\)"):
        chars.encode("Hello")
    readable = chars.readable("Hello, world")  # what a measurement reads: the same length, places in it unmoved
    assert readable == " ello  world" and chars.decode(chars.encode(readable)) == readable


def test_cli_train_and_sample(tmp_path, corpus):
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, "-m", "explainer.cli", "train", "--preset", "tiny", "--out", str(out), "--quiet",
                          "--set", f"corpus={corpus}", "--set", "max_iters=20", "--set", "tokenizer=char"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "device: cpu" in run.stdout and "val loss" in run.stdout
    sample = subprocess.run([sys.executable, "-m", "explainer.cli", "sample", "--checkpoint", str(out), "--prompt", "KING",
                             "--max-new-tokens", "30", "--seed", "1"], capture_output=True, text=True, timeout=120)
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.startswith("KING") and len(sample.stdout.strip()) >= 25
    bad = subprocess.run([sys.executable, "-m", "explainer.cli", "sample", "--checkpoint", str(out), "--temperature", "-1"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "temperature must be >= 0" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "explainer.cli", "train", "--preset", "tiny", "--out", str(out),
                          "--set", "n_layers=3"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown training option 'n_layers'" in bad.stderr


def test_distributed_training_with_two_gloo_processes(tmp_path, corpus):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).parent / "torchrun"
    run = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "explainer.cli", "train",
                          "--preset", "tiny", "--out", str(out), "--quiet", "--set", f"corpus={corpus}",
                          "--set", "max_iters=10", "--set", "eval_interval=5"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.stdout.count("device: cpu, 2 processes") == 1  # only rank 0 prints
    config = checkpoint.read_config(out)
    assert config["processes"] == 2 and config["step"] == 10


def test_the_shipped_model_has_whole_word_tokens_and_its_recorded_loss():
    """The shipped checkpoint: most common words are single tokens, and its recorded per-character validation loss is
    what the whole validation text gives (data/README.md quotes it)."""
    from explainer.gpt.tokenizer import whole_word_share
    from explainer.gpt.train import full_loss, per_character

    lm = checkpoint.load()
    text = data.shakespeare_text()
    assert whole_word_share(lm.tokenizer, text) >= 0.95
    record = lm.meta["evaluation"]
    val_ids = np.array(lm.tokenizer.encode(data.train_val_split(text).val))
    loss = full_loss(lm.model, val_ids, lm.block_size, torch.device("cpu"))
    assert loss == pytest.approx(record["val_loss"], abs=1e-3)
    assert per_character(loss, lm.meta["corpus"]) == pytest.approx(record["val_loss_per_char"], abs=1e-3)
    readme = (Path(__file__).parent.parent / "data" / "README.md").read_text()
    assert f"{record['val_loss_per_char']:.3f} nats per character" in readme


def test_whole_word_share_on_a_hand_made_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    from explainer.gpt.tokenizer import BPETokenizer, whole_word_share

    vocab = {"a": 0, "b": 1, "Ġ": 2, "Ġab": 3, "ab": 4, "Ġb": 5}  # ' ab', 'ab' and ' b' are tokens; ' ba' is not
    merges = [("a", "b"), ("Ġ", "ab"), ("Ġ", "b")]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe = BPETokenizer(tokenizer)
    text = "ab ab ab ba ba b\nab"  # word forms: ' ab' ×2, ' ba' ×2, 'ab' ×2, ' b' ×1
    assert whole_word_share(bpe, text, top=3) == pytest.approx(2 / 3)  # ' ab', 'ab' yes; ' ba' no
    assert whole_word_share(bpe, text, top=4) == pytest.approx(3 / 4)
