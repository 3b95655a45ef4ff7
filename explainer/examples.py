"""The running examples shared by notebooks and scenes, so a video and a notebook show the same numbers."""

# A prompt whose next token the shipped Shakespeare model predicts with a spread-out distribution.
NEXT_TOKEN_PROMPT = "ROMEO:\nI will"

# The lecture's running example for attention.
FLUFFY_PROMPT = "a fluffy blue creature roamed the verdant forest"
