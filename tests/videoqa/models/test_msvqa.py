"""msvqa: outputs per stage, the reconstruction loss by hand, where its gradient goes, training it, and loading
stage-1 and plain DualVGR state dicts."""

from __future__ import annotations

import pytest
import torch

from vlkit.core.errors import InvalidValue
from vlkit.videoqa.models import MODELS
from vlkit.videoqa.models.dualvgr import DualVGROptions
from vlkit.videoqa.models.msvqa import MSVQAOptions

VOCAB, ANSWERS, APPEARANCE, MOTION = 30, 6, 10, 8
SIZES = {"appearance_dim": APPEARANCE, "motion_dim": MOTION, "module_dim": 16, "word_dim": 6, "mfb_dim": 8}


def build(name: str, options) -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.get(name).builder(options, vocab_size=VOCAB, num_answers=ANSWERS)


def msvqa(stage: str, **changes) -> torch.nn.Module:
    return build("msvqa", MSVQAOptions(stage=stage, decoder_hidden_dim=12, **SIZES, **changes))


def clip_batch(items: int = 3, clips: int = 4, frames: int = 3, length: int = 5) -> dict:
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([length, 2, 1] * items)[:items]
    questions = torch.randint(1, VOCAB, (items, length), generator=g)
    questions[torch.arange(length)[None] >= lengths[:, None]] = 0
    return {"appearance": torch.randn(items, clips, frames, APPEARANCE, generator=g),
            "motion": torch.randn(items, clips, MOTION, generator=g), "questions": questions,
            "question_lengths": lengths}


def test_outputs_of_each_stage():
    batch = clip_batch()
    reconstruction = msvqa("reconstruction").eval()(batch)
    assert reconstruction["logits"].shape == (3, ANSWERS) and reconstruction["reconstruction_loss"].shape == ()
    assert "auxiliary_loss" not in reconstruction
    assert not reconstruction["logits"].requires_grad  # the answer path runs without gradients in stage 1
    qa = msvqa("qa").eval()(batch)
    assert qa["logits"].shape == (3, ANSWERS) and qa["auxiliary_loss"].shape == ()
    assert qa["clip_attention"].shape == (3, 4) and "reconstruction_loss" not in qa


def test_reconstruction_targets_are_frame_mean_appearance_and_motion():
    """With both decoders answering zero, the loss is mean(appearance averaged over frames ^ 2) + mean(motion ^ 2)."""
    net = msvqa("reconstruction").eval()
    with torch.no_grad():
        for decoder in (net.appearance_decoder, net.motion_decoder):
            decoder[-1].weight.zero_()
            decoder[-1].bias.zero_()
    appearance = torch.zeros(1, 2, 2, APPEARANCE)
    appearance[0, 0, 0, 0], appearance[0, 0, 1, 0] = 1.0, 3.0  # frame mean 2 in one of 2 x 10 entries
    motion = torch.zeros(1, 2, MOTION)
    motion[0, 1, :4] = 2.0  # 4 of 16 entries at 2
    batch = {"appearance": appearance, "motion": motion, "questions": torch.tensor([[3, 4]]),
             "question_lengths": torch.tensor([2])}
    torch.testing.assert_close(net(batch)["reconstruction_loss"], torch.tensor(4.0 / 20 + 16.0 / 16))


def test_reconstruction_gradient_reaches_the_visual_encoders_and_fusion_but_not_the_answer_path():
    net = msvqa("reconstruction").train()
    net(clip_batch())["reconstruction_loss"].backward()
    reached = {name for name, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    for name in ["visual_appearance_input_unit.encoder.weight_ih_l0",
                 "visual_appearance_input_unit.encoder.weight_hh_l0_reverse", "visual_motion_input_unit.weight",
                 "visual_input_unit.visualfusion.linear0.weight", "visual_input_unit.visualfusion.linear1.weight",
                 "visual_input_unit.visualfusion.linear_out.bias", "appearance_decoder.0.weight",
                 "motion_decoder.2.weight"]:
        assert name in reached, name
    for name, _ in net.named_parameters():
        if name.startswith(("output_unit.", "feature_aggregation.", "linguistic_input_unit.")) or (
                name.startswith("visual_input_unit.") and ".visualfusion." not in name):
            assert name not in reached, name


def test_training_the_reconstruction_loss_alone_lowers_it():
    net = msvqa("reconstruction", input_dropout=0.0, state_dropout=0.0).train()
    batch = clip_batch(items=8)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = net(batch)["reconstruction_loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_stage_two_loads_a_stage_one_state_dict_strictly():
    stage_one = msvqa("reconstruction")
    stage_two = msvqa("qa")
    with torch.no_grad():
        stage_one.appearance_decoder[0].weight.add_(1.0)
    stage_two.load_state_dict(stage_one.state_dict(), strict=True)
    torch.testing.assert_close(stage_two.appearance_decoder[0].weight, stage_one.appearance_decoder[0].weight)


def test_a_dualvgr_state_dict_fills_the_dualvgr_part_and_gives_its_logits():
    dualvgr = build("dualvgr", DualVGROptions(**SIZES)).eval()
    torch.manual_seed(1)  # a different initialisation, so that loading is what makes the logits agree
    net = MODELS.get("msvqa").builder(MSVQAOptions(decoder_hidden_dim=12, **SIZES), vocab_size=VOCAB,
                                      num_answers=ANSWERS).eval()
    result = net.load_state_dict(dualvgr.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert {key.split(".")[0] for key in result.missing_keys} == {"appearance_decoder", "motion_decoder"}
    batch = clip_batch()
    torch.testing.assert_close(net(batch)["logits"], dualvgr(batch)["logits"], rtol=0, atol=0)


def test_unknown_stage_is_refused():
    with pytest.raises(InvalidValue, match="stage"):
        MSVQAOptions(stage="pretrain")
