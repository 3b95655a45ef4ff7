"""GloVe loading, analogies, neighbours, directions and errors, against brute-force numpy and gensim."""

import numpy as np
import pytest

from explainer import embeddings as E
from explainer.figures.common import label_places


@pytest.fixture(scope="module")
def kv():
    return E.load_glove()


def test_load_gives_the_full_vocabulary_without_padding(kv):
    assert kv.vectors.shape == (400_000, 50) and len(kv.index_to_key) == 400_000
    assert kv.index_to_key[0] == "the"
    np.testing.assert_allclose(kv["the"][:5], [0.418, 0.24968, -0.41242, 0.1217, 0.34527], rtol=1e-6)
    assert np.abs(kv.vectors[-1]).sum() > 0  # no zero rows appended (the count= pitfall)


def test_king_minus_man_plus_woman(kv):
    result = E.analogy(kv, "man", "king", "woman", expected="queen")
    assert result.answer == "queen" and result.without_inputs[0][1] == pytest.approx(0.852, abs=0.005)
    assert result.with_inputs[0][0] == "king"  # the nearest word is an input, as the lecture found
    assert result.expected_rank_with_inputs == 2 and result.expected_rank_without_inputs == 1
    assert result.expected_distance == pytest.approx(np.sqrt(2 - 2 * result.expected_cosine), abs=1e-6)
    gensim = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [w for w, _ in gensim] == [w for w, _ in result.without_inputs[:5]]
    np.testing.assert_allclose([s for _, s in gensim], [s for _, s in result.without_inputs[:5]], atol=1e-5)


def test_the_analogy_table_shows_each_case_with_its_ranks_and_quoted_top_words(kv):
    """GloVe's words include punctuation: the top three are quoted, so a "," reads as a word, not as a separator."""
    from explainer.figures.embeddings import analogy_table

    table = analogy_table(kv, [("man", "king", "woman", "queen")])
    result = E.analogy(kv, "man", "king", "woman", expected="queen")
    assert table.row(0) | {"cosine": None} == {
        "b − a + c": "king − man + woman", "expected": "queen", "top (inputs excluded)": result.answer,
        "rank excl.": result.expected_rank_without_inputs, "rank incl.": result.expected_rank_with_inputs,
        "cosine": None, "top 3 incl. inputs": ", ".join(f"“{w}”" for w, _ in result.with_inputs[:3])}
    assert table["cosine"][0] == pytest.approx(result.expected_cosine)


def test_neighbours_match_brute_force_numpy(kv):
    vectors = np.asarray(kv.vectors, dtype=np.float64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit[kv.key_to_index["tower"]]
    order = [kv.index_to_key[i] for i in np.argsort(-cosines)[1:11]]
    found = E.neighbours(kv, "tower", 10)
    assert [w for w, _ in found] == order
    np.testing.assert_allclose([s for _, s in found], np.sort(cosines)[::-1][1:11], atol=1e-5)


def test_unknown_words_get_suggestions_and_case_is_normalised(kv):
    with pytest.raises(E.UnknownWordError, match=r"'quene' is not among.*Did you mean: queen"):
        E.neighbours(kv, "quene")
    with pytest.raises(E.UnknownWordError, match="empty word"):
        E.analogy(kv, "", "king", "woman")
    with pytest.warns(UserWarning, match="lower-case: using 'queen'"):
        assert E.neighbours(kv, "Queen", 3) == E.neighbours(kv, "queen", 3)


def test_directions_projections_and_pca(kv):
    gender = E.direction(kv, E.GENDER_PAIRS)
    assert np.linalg.norm(gender) == pytest.approx(1.0)
    female, male = E.project(kv, ["queen", "king"], [gender])[:, 0]
    assert female > 0 > male
    plural = E.direction(kv, E.PLURAL_PAIRS)
    assert E.project(kv, ["kings"], [plural])[0, 0] > E.project(kv, ["king"], [plural])[0, 0]
    coordinates, explained = E.pca(kv, ["king", "queen", "man", "woman", "apple", "banana"], 2)
    assert coordinates.shape == (6, 2) and 0 < explained.sum() <= 1 and explained[0] >= explained[1]


def test_analogy_plane_keeps_the_arithmetic_exact(kv):
    result = E.analogy(kv, "man", "king", "woman")
    points = E.analogy_plane(kv, result)
    np.testing.assert_allclose(points["target"], points["king"] + points["woman"] - points["man"], atol=1e-9)
    np.testing.assert_allclose(points["man"], [0, 0], atol=1e-12)


def test_playground_widget_updates_and_reports_errors(kv):
    from explainer.figures.embeddings import AnalogyPlayground

    from explainer.figures.kit import unpacked

    playground = AnalogyPlayground(kv)
    assert "rank 2 with the inputs, 1 without" in playground.table.value
    before = playground.view.frame["titles"]
    playground.c.value = "girl"  # new words: the kernel sends the drawing afresh
    assert playground.view.frame["titles"] != before and playground.view.frame["equal"]
    panels = {panel["kind"]: panel for panel in playground.view.get_state()["panels"]}
    points = E.analogy_plane(kv, E.analogy(kv, "man", "king", "girl", "queen"), extra=["queen"])
    np.testing.assert_allclose(unpacked(panels["arrows"]["ends"])[2], points["target"], atol=1e-6)  # king + (girl − man)
    starts = unpacked(panels["arrows"]["starts"])
    np.testing.assert_allclose(starts[:2], [points["man"]] * 2, atol=1e-6)
    assert panels["arrows"]["labels"] == ["king − man", "girl − man", "+ (girl − man)"]
    words, target = [panel for panel in playground.view.get_state()["panels"] if panel["kind"] == "points"]
    assert words["labels"] == ["man", "king", "girl", "queen (projected)"] and target["labels"] == ["king − man + girl"]
    playground.a.value = "womanx"
    assert "is not among" in playground.status.value


def test_crowded_labels_take_different_places():
    places = label_places([0.0, 0.02, 1.0], [0.0, 0.0, 1.0], ["books", "men", "far"], plot_px=(600, 400))
    assert places[0] == "top center" and places[2] == "top center"
    assert places[1] != "top center", "a label on top of a close neighbour's would cover it"
