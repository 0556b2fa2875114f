"""show_attend_tell: equal to the tutorial's decoder (teacher forcing and beam-search steps), its key names,
parameter counts by hand, encoder_att once per batch, the tutorial's initialisation."""

import pytest
import torch
from caption_model_fixtures import build, caption_batch, valid_steps
from tutorial_reference import (tutorial_attention, tutorial_decode_step, tutorial_decoder_forward,
                                tutorial_init_hidden_state)

from vlkit.caption.models.base import CaptionModel
from vlkit.caption.models import show_attend_tell
from vlkit.caption.models.encoders import EncoderConfig
from vlkit.caption.models.show_attend_tell import DecoderWithAttention, ShowAttendTellOptions
from vlkit.core.errors import InvalidValue

TINY = ShowAttendTellOptions(embed_dim=6, attention_dim=7, decoder_dim=10, grid_size=3, dropout=0.5)
LENGTHS = [6, 3, 7, 3, 2]  # ties and a caption of one decode step


def decoder_state(model) -> dict[str, torch.Tensor]:
    """The model's decoder weights under the tutorial's DecoderWithAttention key names."""
    return {key.removeprefix("decoder."): value for key, value in model.state_dict().items()
            if key.startswith("decoder.")}


def test_teacher_forcing_equals_tutorial_decoder_forward_on_valid_steps():
    model = build("show_attend_tell", TINY)
    images, captions, lengths = caption_batch(LENGTHS)
    with torch.no_grad():
        ours = model(images, captions, lengths)
        encoded = model.encode(images)
        predictions, alphas, _, sort_ind = tutorial_decoder_forward(decoder_state(model), encoded, captions,
                                                                    lengths[:, None])
    unsort = torch.argsort(sort_ind)
    mask = valid_steps(lengths)
    torch.testing.assert_close(ours["logits"][mask], predictions[unsort][mask], rtol=0, atol=1e-5)
    torch.testing.assert_close(ours["attention"][mask], alphas[unsort][mask], rtol=0, atol=1e-5)
    assert torch.all(ours["logits"][~mask] == 0) and torch.all(ours["attention"][~mask] == 0)  # the tutorial's zeros


def test_steps_equal_tutorial_beam_search_steps():
    model = build("show_attend_tell", TINY)
    images, captions, _ = caption_batch(LENGTHS)
    state = decoder_state(model)
    with torch.no_grad():
        encoded = model.encode(images)
        context, ours = model.start(encoded)
        h, c = tutorial_init_hidden_state(state, encoded)
        torch.testing.assert_close(ours["h"], h, rtol=0, atol=1e-6)
        for t in range(3):
            logits, ours, attention = model.step(context, ours, captions[:, t])
            log_probs, h, c, alpha = tutorial_decode_step(state, encoded, h, c, captions[:, t])
            torch.testing.assert_close(torch.log_softmax(logits, dim=1), log_probs, rtol=0, atol=1e-5)
            torch.testing.assert_close(attention, alpha, rtol=0, atol=1e-6)
            torch.testing.assert_close(ours["c"], c, rtol=0, atol=1e-6)


@pytest.mark.parametrize("grad", [False, True])
def test_attention_of_k_beams_per_image_in_chunks_equals_the_tutorials_per_beam(monkeypatch, grad):
    model = build("show_attend_tell", TINY)
    images, beams, regions = 5, 3, 9  # a 3 x 3 grid
    monkeypatch.setattr(show_attend_tell, "ENERGY_CHUNK_ELEMENTS", 2 * beams * regions * TINY.attention_dim + 5)
    torch.manual_seed(2)  # chunks of 2 images, 2 and 1 without gradients (a last, shorter chunk)
    encoder_out = torch.randn(images, regions, 16)
    hidden = torch.randn(images * beams, TINY.decoder_dim)
    attention = model.decoder.attention
    with torch.set_grad_enabled(grad):
        attended, alpha = attention(encoder_out, attention.encoder_att(encoder_out), hidden)
    expected_attended, expected_alpha = tutorial_attention(decoder_state(model),
                                                           encoder_out.repeat_interleave(beams, dim=0), hidden)
    torch.testing.assert_close(alpha, expected_alpha, rtol=0, atol=1e-6)
    torch.testing.assert_close(attended, expected_attended, rtol=0, atol=1e-5)


def test_shrinking_batch_forward_equals_step_by_step_path():
    model = build("show_attend_tell", TINY)
    images, captions, lengths = caption_batch(LENGTHS, seed=1)
    with torch.no_grad():
        fast = model(images, captions, lengths)
        slow = CaptionModel.forward(model, images, captions, lengths)
    mask = valid_steps(lengths)
    torch.testing.assert_close(fast["logits"][mask], slow["logits"][mask], rtol=0, atol=1e-6)
    torch.testing.assert_close(fast["attention"][mask], slow["attention"][mask], rtol=0, atol=1e-6)


def test_training_forward_backpropagates_into_every_decoder_parameter():
    model = build("show_attend_tell", TINY).train()
    images, captions, lengths = caption_batch(LENGTHS)
    outputs = model(images, captions, lengths)
    outputs["logits"][valid_steps(lengths)].logsumexp(dim=1).sum().backward()
    missing = [name for name, p in model.decoder.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


def test_encoder_att_runs_once_per_batch_not_per_step():
    model = build("show_attend_tell", TINY)
    calls = []
    model.decoder.attention.encoder_att.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        model(*caption_batch(LENGTHS))
    assert len(calls) == 1


def test_keys_are_the_tutorial_checkpoint_names():
    encoder = EncoderConfig(backbone="resnet18", weights="none")
    keys = set(build("show_attend_tell", ShowAttendTellOptions(grid_size=2), encoder=encoder).state_dict())
    decoder_keys = {key for key in keys if key.startswith("decoder.")}
    expected = {f"decoder.{module}.{kind}" for module in ("attention.encoder_att", "attention.decoder_att",
                                                          "attention.full_att", "init_h", "init_c", "f_beta", "fc")
                for kind in ("weight", "bias")}
    expected |= {"decoder.embedding.weight"} | {f"decoder.decode_step.{kind}_{part}" for kind in ("weight", "bias")
                                                for part in ("ih", "hh")}
    assert decoder_keys == expected
    assert {"encoder.resnet.0.weight", "encoder.resnet.1.running_mean", "encoder.resnet.4.0.conv1.weight",
            "encoder.resnet.7.1.bn2.weight"} <= keys
    assert keys - decoder_keys == {key for key in keys if key.startswith("encoder.resnet.")}  # no other keys


def test_decoder_parameter_count_for_the_tutorial_coco_word_map():
    vocab, embed, attention, hidden, encoder_dim = 9490, 512, 512, 512, 2048
    expected = (
        encoder_dim * attention + attention  # attention.encoder_att
        + hidden * attention + attention  # attention.decoder_att
        + attention + 1  # attention.full_att
        + vocab * embed  # embedding
        + 4 * hidden * (embed + encoder_dim) + 4 * hidden * hidden + 2 * 4 * hidden  # decode_step (LSTMCell)
        + 2 * (encoder_dim * hidden + hidden)  # init_h, init_c
        + hidden * encoder_dim + encoder_dim  # f_beta
        + hidden * vocab + vocab  # fc
    )
    decoder = DecoderWithAttention(ShowAttendTellOptions(), vocab, encoder_dim)
    assert sum(p.numel() for p in decoder.parameters()) == expected == 20_483_859


def test_model_parameter_count_with_resnet18_encoder():
    model = build("show_attend_tell", ShowAttendTellOptions(grid_size=2), vocab_size=100,
                  encoder=EncoderConfig(backbone="resnet18", weights="none"))
    resnet18_without_fc = 11_689_512 - (512 * 1000 + 1000)  # torchvision's count minus its classifier
    decoder = DecoderWithAttention(ShowAttendTellOptions(), 100, 512)
    assert sum(p.numel() for p in model.parameters()) == resnet18_without_fc + sum(
        p.numel() for p in decoder.parameters())


def test_initialisation_is_the_tutorials():
    model = build("show_attend_tell", ShowAttendTellOptions(embed_dim=8, attention_dim=8, decoder_dim=8))
    decoder = model.decoder
    for weight in (decoder.embedding.weight, decoder.fc.weight):
        assert weight.abs().max() <= 0.1 and weight.abs().max() > 0.09  # uniform(-0.1, 0.1), not N(0, 1)
    assert torch.all(decoder.fc.bias == 0)


def test_alpha_c_is_an_option_read_by_training_and_options_are_checked():
    assert build("show_attend_tell", ShowAttendTellOptions(alpha_c=0.5, grid_size=2)).alpha_c == 0.5
    assert ShowAttendTellOptions().alpha_c == 1.0
    for bad in (dict(dropout=1.0), dict(alpha_c=-1.0), dict(grid_size=0), dict(decoder_dim=1.5)):
        with pytest.raises(InvalidValue):
            ShowAttendTellOptions(**bad)
