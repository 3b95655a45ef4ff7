"""The model you can train: the GPT, its tokenizer, the corpus, training, checkpoints, generation, the device."""
