"""The model you can train and the models you bring: the GPT (GPT-2 and LLaMA families), its tokenizer, the corpus,
training, checkpoints and loaders, generation, the device; layout (per-head weight views), hooks (cache names) and
memory (what a run needs) are what concept code reads the model through."""
