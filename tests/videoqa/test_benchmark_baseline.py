"""The video QA speed benchmark's baseline computes NJUPT-MCC/DualVGR-VideoQA's DualVGR.

benchmarks/videoqa_training_speed.py times vlkit's DualVGR step against `ReferenceDualVGR`
(benchmarks/reference_dualvgr_training.py), the repository's modules laid out as it lays them out.
Here that baseline, given a random state dict with the repository's keys, gives in eval mode the
logits of the repository's forward pass written out as tensor maths (dualvgr_reference.py), so the
benchmark compares vlkit with the repository's computation and not with some other model.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from conftest import REPO
from dualvgr_reference import padded_clip_batch, random_dualvgr_state, reference_logits

spec = importlib.util.spec_from_file_location("reference_dualvgr_training",
                                              REPO / "benchmarks" / "reference_dualvgr_training.py")
reference_dualvgr_training = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_dualvgr_training)

VOCAB, ANSWERS, VISION, MODULE, WORD, CLIPS, FRAMES = 13, 7, 12, 16, 10, 5, 3



@pytest.mark.parametrize("units", [1, 2])
def test_benchmark_baseline_gives_the_repository_logits_in_eval_mode(units):
    state = random_dualvgr_state(VOCAB, ANSWERS, VISION, MODULE, WORD, unit_layers=units, seed=units)
    baseline = reference_dualvgr_training.ReferenceDualVGR(VOCAB, ANSWERS, vision_dim=VISION, module_dim=MODULE,
                                                           word_dim=WORD, num_of_nodes=CLIPS, unit_layers=units)
    baseline.load_state_dict(state)
    batch = padded_clip_batch(units, VOCAB, CLIPS, FRAMES, VISION)
    expected = reference_logits(state, batch["appearance"], batch["motion"], batch["questions"],
                                batch["question_lengths"])
    with torch.no_grad():
        logits, *_ = baseline.eval()(batch["appearance"], batch["motion"], batch["questions"],
                                     batch["question_lengths"])
    assert logits.shape == (4, ANSWERS)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
