"""score_captions: pycocoevalcap's numbers (called directly as the reference), by hand, with and without Java."""

import math

import pytest

from caption_metric_fixtures import PREDICTIONS, REFERENCES
from vlkit.caption.metrics import scorers
from vlkit.caption.metrics.java import java_problem
from vlkit.caption.metrics.scorers import score_captions
from vlkit.core.errors import VlkitError

needs_java = pytest.mark.skipif(java_problem() is not None, reason=f"no Java: {java_problem()}")
# pycocoevalcap 1.2 on the fixture captions (images 1-3): its PTBTokenizer, then Bleu(4), Meteor(), Rouge(),
# Cider() called directly, as COCOEvalCap.evaluate does
COCO_EVAL_CAP = {"Bleu_1": 0.7881276276702512, "Bleu_2": 0.719458799777194, "Bleu_3": 0.6255373126188527,
                 "Bleu_4": 0.5572903899573659, "METEOR": 0.4389204209967026, "ROUGE_L": 0.8123782357809204,
                 "CIDEr": 2.6556778391572826}
PREDICTED_REFERENCES = {image_id: REFERENCES[image_id] for image_id in PREDICTIONS}


def without_java(monkeypatch):
    monkeypatch.setattr(scorers, "java_problem", lambda: "`java` is not on PATH")


def pycocoevalcap_direct(references: dict, predictions: dict) -> dict:
    """pycocoevalcap's tokenizer and scorers called directly (the parity reference)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = PTBTokenizer().tokenize({i: [{"caption": c} for c in references[i]] for i in predictions})
    res = PTBTokenizer().tokenize({i: [{"caption": predictions[i]}] for i in predictions})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return {**dict(zip(scorers.BLEU_KEYS, bleu)), "ROUGE_L": Rouge().compute_score(gts, res)[0],
            "CIDEr": Cider().compute_score(gts, res)[0]}


def test_bleu_of_a_hand_computed_example():
    # prediction "a cat on the mat" (5 words), reference "a cat sat on the mat" (6 words), closest length 6:
    # brevity penalty exp(1 - 6/5) = exp(-0.2)
    # 1-grams 5/5; 2-grams a-cat, on-the, the-mat of 4 -> 3/4; 3-grams on-the-mat of 3 -> 1/3; 4-grams 0/2
    # Bleu_n = BP * (p1 ... pn)^(1/n); Bleu_4 is pycocoevalcap's (1e-15 / 2)-smoothed near-zero value
    scores = score_captions({7: ["A cat sat on the mat."]}, {7: "A cat on the mat"}, tokenizer="python").scores
    penalty = math.exp(-0.2)
    assert scores["Bleu_1"] == pytest.approx(penalty, rel=1e-8)
    assert scores["Bleu_2"] == pytest.approx(penalty * (3 / 4) ** 0.5, rel=1e-8)
    assert scores["Bleu_3"] == pytest.approx(penalty * (3 / 4 / 3) ** (1 / 3), rel=1e-8)
    assert scores["Bleu_4"] == pytest.approx(penalty * (3 / 4 / 3 * 1e-15 / 2) ** (1 / 4), rel=1e-5)


def test_scores_equal_coco_eval_cap_without_meteor_by_default(monkeypatch):
    without_java(monkeypatch)
    scores = score_captions(REFERENCES, PREDICTIONS)
    assert "METEOR" not in scores.scores and scores.unavailable == {}
    assert scores.tokenizer == "python" and scores.num_images == 3
    expected = {key: value for key, value in COCO_EVAL_CAP.items() if key != "METEOR"}
    assert scores.scores == pytest.approx(expected, rel=1e-12)


@needs_java
@pytest.mark.parametrize("tokenizer", ["jar", "python"])
def test_scores_equal_pycocoevalcap_scorers_called_directly(tokenizer):
    scores = score_captions(REFERENCES, PREDICTIONS, tokenizer=tokenizer)
    assert scores.tokenizer == {"jar": "ptb-jar", "python": "python"}[tokenizer]
    assert scores.scores == pytest.approx(pycocoevalcap_direct(REFERENCES, PREDICTIONS), rel=1e-12)


def test_without_java_meteor_and_spice_are_unavailable_with_the_reason(monkeypatch):
    without_java(monkeypatch)
    scores = score_captions(REFERENCES, PREDICTIONS, meteor=True, spice=True)
    assert scores.scores["METEOR"] is None and scores.scores["SPICE"] is None
    assert scores.unavailable["METEOR"].label == scores.unavailable["SPICE"].label == "no Java"
    report = scores.as_dict()
    assert report["METEOR"] is None and report["unavailable"]["METEOR"].startswith("no Java: ")
    assert "java` is not on PATH" in report["unavailable"]["SPICE"]


def test_the_jar_tokenizer_without_java_is_an_error(monkeypatch):
    without_java(monkeypatch)
    with pytest.raises(VlkitError, match="needs Java"):
        score_captions(REFERENCES, PREDICTIONS, tokenizer="jar")


def test_tutorial_bleu4_is_nltk_corpus_bleu_of_the_ptb_tokens(monkeypatch):
    import nltk.translate.bleu_score as nltk_bleu

    without_java(monkeypatch)
    from vlkit.caption.metrics.ptb_tokenizer import ptb_tokens

    ids = list(PREDICTIONS)
    expected = nltk_bleu.corpus_bleu([[ptb_tokens(c) for c in REFERENCES[i]] for i in ids],
                                     [ptb_tokens(PREDICTIONS[i]) for i in ids])
    assert score_captions(REFERENCES, PREDICTIONS).tutorial_bleu4 == pytest.approx(expected, rel=1e-12)


def test_a_prediction_without_references_is_refused():
    with pytest.raises(VlkitError, match=r"have no reference captions, e.g. \[9\]"):
        score_captions(REFERENCES, {**PREDICTIONS, 9: "a dog"}, tokenizer="python")
