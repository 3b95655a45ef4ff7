"""The video chapters, in viewing order: each one's file under animations/, title, scene class and the notebooks that
play it. The renderer, the notebook player, the title cards, the CLI's help and the gallery all read this list.

A new chapter is one line here and one file animations/<name>.py holding the scene class named here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from explainer.errors import UnknownSceneError


@dataclass(frozen=True)
class Entry:
    name: str  # the file animations/<name>.py
    title: str
    scene: str  # the Chapter subclass in that file
    notebooks: tuple[str, ...]  # notebooks (file stems) whose player shows this chapter

    @property
    def number(self) -> int:
        """1, 2, …: the place in viewing order."""
        return CATALOGUE.index(self) + 1

    @property
    def label(self) -> str:
        """'2 · The whole machine': the chapter as its title card, the player and the gallery name it."""
        return f"{self.number} · {self.title}"


CATALOGUE = (
    Entry("next_token", "The next token", "NextToken", ("01_softmax_and_temperature",)),
    Entry("the_whole_machine", "The whole machine", "TheWholeMachine", ("02_tokens_and_the_forward_pass",)),
    Entry("how_it_learns", "How it learns", "HowItLearns", ("03_how_it_learns",)),
    Entry("words_as_vectors", "Words as vectors", "WordsAsVectors", ("04_word_embeddings",)),
    Entry("near_orthogonal", "Almost perpendicular", "NearOrthogonal", ("05_near_orthogonal_vectors",)),
    Entry("mlp_and_residual", "The MLP and the residual stream", "MlpAndResidual",
          ("06_the_residual_stream", "13_the_mlp")),
    Entry("one_head", "One head of attention", "OneHead",
          ("07_context_changes_meaning", "08_attention_step_by_step", "09_masking")),
    Entry("many_heads", "Many heads, many layers", "ManyHeads", ("11_many_heads", "12_attention_in_a_trained_model")),
    Entry("scale_and_cost", "Scale", "ScaleAndCost", ("14_scale",)),
)
NAMES = tuple(entry.name for entry in CATALOGUE)


def entry(name: str) -> Entry:
    """The chapter called `name`, or UnknownSceneError listing the valid names."""
    for found in CATALOGUE:
        if found.name == name:
            return found
    close = difflib.get_close_matches(name, NAMES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownSceneError(f"unknown chapter {name!r}.{hint} Valid chapters: {', '.join(NAMES)}")


def of_scene(scene: str) -> Entry:
    """The chapter whose scene class is called `scene`."""
    for found in CATALOGUE:
        if found.scene == scene:
            return found
    raise UnknownSceneError(f"no chapter has the scene class {scene!r}; add it to explainer/video/catalogue.py")


def of_notebook(notebook: str) -> Entry | None:
    """The chapter a notebook (file stem) plays, if any."""
    return next((found for found in CATALOGUE if notebook in found.notebooks), None)
