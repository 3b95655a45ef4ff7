"""Small, clearly labelled illustrative inputs from the lectures (not model outputs)."""

# The talk's opening example. These logits are made up to look plausible: they are an
# illustration of what a model might output, not the output of any model.
CLEVEREST_PROMPT = "To date, the cleverest thinker of all time was"
CLEVEREST_TOKENS = [" probably", " undoubtedly", " arguably", " Einstein", " Aristotle",
                    " Newton", " not", " a", " Socrates", " Leonardo"]
CLEVEREST_LOGITS = [3.1, 2.6, 2.4, 2.2, 1.6, 1.5, 0.9, 0.7, 0.6, 0.2]
