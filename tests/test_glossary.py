"""The glossary: every term the notebooks link to exists, and each notebook links or defines its jargon where it is
first used (a learner should never meet "logit lens" or "nats" unexplained)."""

import re

import nbformat
import pytest

from explainer.paths import NOTEBOOKS_DIR

GLOSSARY = NOTEBOOKS_DIR / "GLOSSARY.md"
# Words a newcomer cannot be expected to know; each notebook must link or define (bold) them where they first appear.
JARGON = {"logit lens": r"logit lens", "unembedding": r"unembedding", "tied weights": r"tied (?:weights|to)",
          "nats": r"nats?", "one-hot": r"one-hot", "residual stream": r"residual stream", "KV cache": r"KV cache",
          "LayerNorm": r"LayerNorms?", "logit": r"logits?(?! lens)", "softmax": r"softmax", "GELU": r"GELU",
          "causal mask": r"causal mask", "superposition": r"superposition", "cosine similarity": r"cosine similarity",
          "mean-ablation": r"mean-ablation", "under-trained": r"under-trained", "BPE": r"BPE", "RoPE": r"RoPE",
          "grouped-query": r"grouped-query", "linear probe": r"linear probes?", "scaling law": r"scaling laws?",
          "pre-training": r"pre-training", "QK circuit": r"QK circuit"}
LINK = re.compile(r"\[([^\]]*)\]\(GLOSSARY\.md(?:#([\w-]+))?\)")


def anchors() -> set[str]:
    return {heading.strip().replace(" ", "-") for heading in re.findall(r"^### (.+)$", GLOSSARY.read_text(), re.M)}


def prose(notebook) -> str:
    """The notebook's markdown, with code, formulas and quotations blanked (they are not the first use)."""
    text = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for pattern in (r"```.*?```", r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$]*\$", r"“[^”]*”"):
        text = re.sub(pattern, lambda m: " " * len(m.group()), text, flags=re.S)
    return text


def first_use_explained(text: str, pattern: str) -> bool | None:
    """None if the term is not used; else whether its first use is in a glossary link, in bold, or in a heading."""
    match = re.search(rf"(?<![\w-]){pattern}(?![\w-])", text, re.I)
    if not match:
        return None
    start = match.start()
    line = text[text.rfind("\n", 0, start) + 1:text.find("\n", start) if text.find("\n", start) >= 0 else len(text)]
    in_link = any(m.start() <= start < m.end() for m in LINK.finditer(text))
    in_bold = any(m.start() <= start < m.end() for m in re.finditer(r"\*\*[^*]+\*\*", text))
    return in_link or in_bold or line.lstrip().startswith("#")


NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_glossary_headings_are_lower_case_terms():
    headings = re.findall(r"^### (.+)$", GLOSSARY.read_text(), re.M)
    assert headings and all(h == h.strip() for h in headings)
    assert len(headings) == len(set(headings))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glossary_links_resolve(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    missing = [anchor for _, anchor in LINK.findall(text) if anchor and anchor not in anchors()]
    assert not missing, f"{path.name} links to glossary entries that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_jargon_is_linked_or_defined_at_first_use(path):
    text = prose(nbformat.read(path, as_version=4))
    unexplained = [term for term, pattern in JARGON.items() if first_use_explained(text, pattern) is False]
    assert not unexplained, f"{path.name}: link these to the glossary (or define them in bold) where first used: {unexplained}"


def test_the_first_use_check_can_fail():
    assert first_use_explained("the logit lens shows", JARGON["logit lens"]) is False
    assert first_use_explained("the [logit lens](GLOSSARY.md#logit-lens) shows; the logit lens", JARGON["logit lens"])
    assert first_use_explained("a **logit** is a score", JARGON["logit"])
    assert first_use_explained("## The KV cache", JARGON["KV cache"])
    assert first_use_explained("no such word here", JARGON["nats"]) is None
    assert first_use_explained("the logit lens", JARGON["logit"]) is None
