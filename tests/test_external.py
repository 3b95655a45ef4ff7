"""Bring your own model: GPT-2 folders (against transformers' own computation) and nanoGPT checkpoints, loaded safely."""

import os
import pickle

import pytest
import torch

from explainer.gpt import checkpoint, data, external
from explainer.gpt.model import GPT, GPTConfig

transformers = pytest.importorskip("transformers")  # a test-only dependency (the dev extra installs it)
PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?"


@pytest.fixture(scope="module")
def gpt2_folder(random_gpt2):
    return random_gpt2


def hf_outputs(folder, ids):
    model = transformers.GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_attentions=True)
    return out.logits[0], [a[0] for a in out.attentions]


def test_gpt2_logits_and_every_attention_pattern_match_transformers(gpt2_folder):
    lm = checkpoint.load(gpt2_folder)
    assert lm.model.config.activation == "gelu_tanh" and lm.block_size == 96
    ids = lm.encode(PROMPT)
    expected_logits, expected_patterns = hf_outputs(gpt2_folder, ids)
    logits, cache = lm.model.run_with_cache(torch.tensor([ids]))
    torch.testing.assert_close(logits[0], expected_logits, atol=1e-5, rtol=0)
    for layer, expected in enumerate(expected_patterns):
        torch.testing.assert_close(cache[f"blocks.{layer}.attn.hook_pattern"][0], expected, atol=1e-5, rtol=0)
    fast, _ = lm.model(torch.tensor([ids]))
    torch.testing.assert_close(fast[0], expected_logits, atol=1e-5, rtol=0)


def test_gpt2_tokenizer_from_vocab_and_merges(gpt2_folder, tmp_path):
    from tokenizers import Tokenizer

    folder = tmp_path / "gpt2-vocab-merges"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).symlink_to(gpt2_folder / name)
    original = Tokenizer.from_file(str(gpt2_folder / "tokenizer.json"))
    original.model.save(str(folder))  # vocab.json and merges.txt
    lm = checkpoint.load(folder)
    assert lm.encode(PROMPT) == original.encode(PROMPT).ids
    assert lm.tokenizer.decode(lm.encode(PROMPT)) == PROMPT


def nanogpt_checkpoint(model: GPT, path, compiled: bool = True, extra=None):
    """A checkpoint dict in nanoGPT's layout (train.py's `checkpoint = {...}`)."""
    prefix = "_orig_mod." if compiled else ""
    config = model.config
    saved = {"model": {prefix + k: v for k, v in model.state_dict().items()},
             "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}]},
             "model_args": dict(n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd, block_size=config.block_size,
                                bias=config.bias, vocab_size=config.vocab_size, dropout=0.0),
             "iter_num": 5000, "best_val_loss": torch.tensor(1.47), "config": {"dataset": "shakespeare_char", "batch_size": 64}}
    if extra:
        saved.update(extra)
    torch.save(saved, path)
    return path


@pytest.fixture
def char_model():
    text = data.shakespeare_text()[:20_000]
    chars = sorted(set(text))
    torch.manual_seed(1)
    return GPT(GPTConfig(vocab_size=len(chars), block_size=32, n_layer=2, n_head=2, n_embd=32)).eval(), chars


def test_nanogpt_checkpoint_with_meta_pkl_gives_the_same_logits(tmp_path, char_model):
    model, chars = char_model
    path = nanogpt_checkpoint(model, tmp_path / "ckpt.pt")
    with open(tmp_path / "meta.pkl", "wb") as file:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}, file)
    lm = checkpoint.load(path)
    assert lm.tokenizer.kind == "char" and lm.meta["step"] == 5000
    ids = torch.tensor([lm.encode("ROMEO:\nBut soft")])
    assert torch.equal(lm.model(ids)[0], model(ids)[0])
    again = checkpoint.load(tmp_path, meta=chars)  # the folder, and the characters given directly
    assert torch.equal(again.model(ids)[0], model(ids)[0])


def test_a_checkpoint_that_needs_arbitrary_unpickling_is_refused(tmp_path, char_model):
    model, chars = char_model
    path = nanogpt_checkpoint(model, tmp_path / "ckpt.pt", extra={"hook": os.getcwd})  # a function: code, not data
    with pytest.raises(external.ExternalModelError, match="needs more than weights-only loading"):
        checkpoint.load(path, meta=chars)


def test_a_meta_pkl_holding_code_is_refused(tmp_path, char_model):
    model, chars = char_model
    path = nanogpt_checkpoint(model, tmp_path / "ckpt.pt")
    with open(tmp_path / "meta.pkl", "wb") as file:
        pickle.dump({"itos": dict(enumerate(chars)), "run": os.getcwd}, file)
    with pytest.raises(external.ExternalModelError, match="refusing to unpickle"):
        checkpoint.load(path)


def test_clear_errors_for_folders_that_are_no_model(tmp_path, gpt2_folder, char_model, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(checkpoint.CheckpointError, match="none of our checkpoint folders"):
        checkpoint.load(tmp_path / "empty")
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nowhere")
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        (no_tokenizer / name).symlink_to(gpt2_folder / name)
    with pytest.raises(external.ExternalModelError, match="needs tokenizer.json, or vocab.json and merges.txt"):
        checkpoint.load(no_tokenizer)
    model, chars = char_model
    path = nanogpt_checkpoint(model, tmp_path / "ckpt.pt")
    with pytest.raises(external.ExternalModelError, match="no vocabulary beside it"):
        checkpoint.load(path)
    wrong = nanogpt_checkpoint(model, tmp_path / "wrong.pt", extra={"model_args": dict(
        n_layer=3, n_head=2, n_embd=32, block_size=32, bias=True, vocab_size=len(chars), dropout=0.0)})
    with pytest.raises(external.ExternalModelError, match="do not match its configuration"):
        checkpoint.load(wrong, meta=chars)
    monkeypatch.setattr(external, "available_memory", lambda: 2**20)
    with pytest.raises(external.ExternalModelError, match="GiB to load"):
        checkpoint.load(gpt2_folder)
