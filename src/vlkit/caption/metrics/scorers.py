"""pycocoevalcap's scorers on PTB-tokenized captions, as its `COCOEvalCap.evaluate` runs them.

The captions are tokenized first: with pycocoevalcap's own `PTBTokenizer` (Stanford CoreNLP 3.4.1) when
Java runs, else with `ptb_tokenizer` (the same tokens, without Java). Then BLEU-1..4 ("closest"
reference length, corpus totals), ROUGE-L (beta 1.2), CIDEr-D (sigma 6, idf from the scored images'
references, x10), and when asked METEOR 1.5 and SPICE (jars; without Java, or without the CoreNLP jars
SPICE needs, they are reported unavailable with the reason). The tutorial's corpus BLEU-4 (nltk
`corpus_bleu`) is computed on the same tokens.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, field
from typing import Hashable, Literal, Mapping, Optional, Sequence

from vlkit.caption.metrics.corpus_bleu import corpus_bleu4
from vlkit.caption.metrics.java import java_problem
from vlkit.caption.metrics.ptb_tokenizer import LINE_BREAKS, ptb_tokenize_lines
from vlkit.core.errors import VlkitError

logger = logging.getLogger("vlkit")

Tokenizer = Literal["auto", "jar", "python"]
BLEU_KEYS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4")


@dataclass(frozen=True)
class Unavailable:
    """Why a metric was not computed: `label` is the short form the text output shows, `detail` the rest."""

    label: str
    detail: str

    def __str__(self) -> str:
        return f"{self.label}: {self.detail}"


@dataclass
class CaptionScores:
    """Corpus scores under pycocoevalcap's key names (None: asked for but unavailable, see `unavailable`)."""

    scores: dict[str, Optional[float]]
    tutorial_bleu4: float
    tokenizer: str  # "ptb-jar" (pycocoevalcap's PTBTokenizer) or "python" (ptb_tokenizer)
    num_images: int
    unavailable: dict[str, Unavailable] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The JSON object of `vlkit caption score --json`."""
        return {**self.scores, "tutorial_bleu4": self.tutorial_bleu4,
                "unavailable": {key: str(reason) for key, reason in self.unavailable.items()},
                "tokenizer": self.tokenizer, "images": self.num_images}


def tokenize(references: Mapping[Hashable, Sequence[str]], predictions: Mapping[Hashable, str],
             tokenizer: Tokenizer = "auto") -> tuple[dict, dict, str]:
    """PTB tokens of every caption, as pycocoevalcap's scorers take them: ({id: [ref, ...]}, {id: [pred]}, the
    tokenizer used). Line breaks inside a caption become spaces (the jar would split the caption in two)."""
    ids = list(predictions)
    captions = [caption for i in ids for caption in references[i]] + [predictions[i] for i in ids]
    use_jar = tokenizer == "jar" or (tokenizer == "auto" and java_problem() is None)
    if use_jar:
        if java_problem() is not None:
            raise VlkitError(f"the PTB tokenizer jar needs Java: {java_problem()}")
        lines = _jar_tokenize(captions)
    else:
        lines = [" ".join(tokens) for tokens in ptb_tokenize_lines(captions)]
    gts, position = {}, 0
    for i in ids:
        gts[i] = lines[position:position + len(references[i])]
        position += len(references[i])
    res = {i: [line] for i, line in zip(ids, lines[position:])}
    return gts, res, "ptb-jar" if use_jar else "python"


def _jar_tokenize(captions: list[str]) -> list[str]:
    """pycocoevalcap's PTBTokenizer over all captions in one Java run (one caption per key keeps their order)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    logger.info(f"tokenizing {len(captions)} captions with the Stanford PTB tokenizer (Java)")
    by_key = {k: [{"caption": LINE_BREAKS.sub(" ", caption)}] for k, caption in enumerate(captions)}
    try:
        tokenized = PTBTokenizer().tokenize(by_key)
    except OSError as error:
        raise VlkitError(f"pycocoevalcap's PTB tokenizer could not run (it writes a temporary file next to its "
                         f"jar): {error}") from error
    if len(tokenized) != len(captions):
        raise VlkitError(f"the PTB tokenizer returned {len(tokenized)} lines for {len(captions)} captions")
    return [tokenized[k][0] for k in range(len(captions))]


def _meteor(gts: dict, res: dict) -> float:
    """METEOR 1.5 through pycocoevalcap's wrapper of its jar (one Java process, closed afterwards)."""
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    try:
        score, _ = scorer.compute_score(gts, res)
    except (ValueError, OSError) as error:
        if scorer.lock.locked():  # the wrapper keeps its lock on an error; its __del__ would wait forever
            scorer.lock.release()
        ended = scorer.meteor_p.poll() is not None
        stderr = scorer.meteor_p.stderr.read(2000).decode(errors="replace") if ended else ""
        raise RuntimeError(f"the METEOR jar failed: {error} {stderr}".strip()) from error
    finally:
        del scorer
    return score


def spice_problem() -> Optional[Unavailable]:
    """None when SPICE can run; otherwise why not (no Java, or the CoreNLP jars it downloads are absent)."""
    if java_problem() is not None:
        return Unavailable("no Java", java_problem())
    import pycocoevalcap.spice.get_stanford_models as models

    jar = os.path.join(os.path.dirname(os.path.abspath(models.__file__)), models.SPICELIB, f"{models.JAR}.jar")
    if not os.path.exists(jar):
        return Unavailable("Stanford CoreNLP jars missing",
                           f"SPICE needs {models.JAR}.jar and {models.JAR}-models.jar in {os.path.dirname(jar)}, which "
                           "pycocoevalcap downloads from nlp.stanford.edu; vlkit does not download at run time: run "
                           "`python -m pycocoevalcap.spice.get_stanford_models` once on a machine with network")
    return None


def _spice(gts: dict, res: dict) -> float:
    """SPICE through pycocoevalcap's wrapper of its jar."""
    from pycocoevalcap.spice.spice import Spice

    try:
        score, _ = Spice().compute_score(gts, res)
    except (subprocess.CalledProcessError, OSError, ValueError) as error:
        raise RuntimeError(f"the SPICE jar failed: {error}") from error
    return float(score)


def score_tokenized(gts: dict, res: dict, tokenizer_name: str, meteor: bool = False,
                    spice: bool = False) -> CaptionScores:
    """pycocoevalcap's scores of tokenized captions ({id: [ref, ...]}, {id: [pred]}) plus the tutorial BLEU-4."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores: dict[str, Optional[float]] = dict(zip(BLEU_KEYS, map(float, bleu)))
    unavailable: dict[str, Unavailable] = {}
    if meteor:
        scores["METEOR"] = None
        if java_problem() is not None:
            unavailable["METEOR"] = Unavailable("no Java", f"METEOR 1.5 is a jar; {java_problem()}")
        else:
            logger.info("computing METEOR (Java)")
            try:
                scores["METEOR"] = float(_meteor(gts, res))
            except RuntimeError as error:
                unavailable["METEOR"] = Unavailable("METEOR jar failed", str(error))
    scores["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
    scores["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    if spice:
        scores["SPICE"] = None
        problem = spice_problem()
        if problem is not None:
            unavailable["SPICE"] = problem
        else:
            logger.info("computing SPICE (Java)")
            try:
                scores["SPICE"] = _spice(gts, res)
            except RuntimeError as error:
                unavailable["SPICE"] = Unavailable("SPICE jar failed", str(error))
    tutorial = corpus_bleu4([[ref.split() for ref in gts[i]] for i in res], [res[i][0].split() for i in res])
    return CaptionScores(scores, tutorial, tokenizer_name, len(res), unavailable)


def score_captions(references: Mapping[Hashable, Sequence[str]], predictions: Mapping[Hashable, str], *,
                   meteor: bool = False, spice: bool = False, tokenizer: Tokenizer = "auto") -> CaptionScores:
    """Score raw captions: predictions[id] is one caption, references[id] that image's reference captions.

    Only the predicted images are scored (as COCOEvalCap scores the images of its results); every predicted
    id needs references. `tokenizer`: "auto" (default) runs pycocoevalcap's PTB tokenizer jar when Java runs
    (about 0.3 s of JVM start, the numbers of `vlkit caption score`), else the pure-Python tokenizer, which
    gives the same tokens (tests/caption/metrics); "python" skips Java (a training loop's validation on a
    machine without it), "jar" insists on it. METEOR (a second JVM, seconds) and SPICE run only when asked.
    """
    if not predictions:
        raise VlkitError("no predictions to score")
    missing = [i for i in predictions if i not in references or not references[i]]
    if missing:
        raise VlkitError(f"{len(missing)} predicted image(s) have no reference captions, e.g. {missing[:5]}")
    gts, res, used = tokenize(references, predictions, tokenizer)
    return score_tokenized(gts, res, used, meteor=meteor, spice=spice)
