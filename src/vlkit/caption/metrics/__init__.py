"""Caption metrics: pycocoevalcap's scorers (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE) on PTB tokens, the
tutorial-style corpus BLEU-4, and scoring a COCO results file against COCO caption annotations.

`score_captions` is the Python entry point (a training loop's validation); `score_files` backs
`vlkit caption score`.
"""

from vlkit.caption.metrics.scorers import CaptionScores, score_captions

__all__ = ["CaptionScores", "score_captions"]
