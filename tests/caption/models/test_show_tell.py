"""show_tell: the whole-sequence forward equals the step path, image as first input or as initial state,
no attention, parameter count by hand."""

import pytest
import torch
from caption_model_fixtures import TINY_ENCODER, VOCAB, build, caption_batch

from vlkit.caption.models.base import CaptionModel
from vlkit.caption.models.show_tell import ShowTellOptions
from vlkit.core.errors import InvalidValue

LENGTHS = [5, 2, 4]


def tiny(image_as: str) -> ShowTellOptions:
    return ShowTellOptions(embed_dim=6, hidden_dim=10, image_as=image_as)


@pytest.mark.parametrize("image_as", ["input", "state"])
def test_whole_sequence_forward_equals_step_by_step_path(image_as):
    model = build("show_tell", tiny(image_as))
    images, captions, lengths = caption_batch(LENGTHS)
    with torch.no_grad():
        whole = model(images, captions, lengths)
        steps = CaptionModel.forward(model, images, captions, lengths)
    assert set(whole) == {"logits"} and whole["logits"].shape == (3, 4, VOCAB)
    torch.testing.assert_close(whole["logits"], steps["logits"], rtol=0, atol=1e-6)


def test_image_as_input_is_the_first_lstm_step_from_the_zero_state():
    model = build("show_tell", tiny("input"))
    images, _, _ = caption_batch(LENGTHS)
    with torch.no_grad():
        encoded = model.encode(images)
        _, state = model.start(encoded)
        image = model.image_norm(model.image_embed(encoded[:, 0]))
        _, (h, c) = model.lstm(image[:, None, :], (torch.zeros(1, 3, 10), torch.zeros(1, 3, 10)))
    assert encoded.shape == (3, 1, 16)  # one global vector per image
    torch.testing.assert_close(state["h"], h[0], rtol=0, atol=0)
    torch.testing.assert_close(state["c"], c[0], rtol=0, atol=0)


def test_image_as_state_starts_the_lstm_from_the_image_vector():
    model = build("show_tell", tiny("state"))
    images, _, _ = caption_batch(LENGTHS)
    with torch.no_grad():
        encoded = model.encode(images)
        _, state = model.start(encoded)
        image = model.image_norm(model.image_embed(encoded[:, 0]))
    assert model.image_embed.out_features == 10  # the hidden size, not the embedding size
    torch.testing.assert_close(state["c"], image, rtol=0, atol=0)
    torch.testing.assert_close(state["h"], torch.tanh(image), rtol=0, atol=0)


@pytest.mark.parametrize("image_as", ["input", "state"])
def test_captions_depend_on_the_image_and_training_reaches_the_image_layer(image_as):
    model = build("show_tell", tiny(image_as)).train()
    images, captions, lengths = caption_batch(LENGTHS)
    logits = model(images, captions, lengths)["logits"]
    logits.logsumexp(dim=2).sum().backward()
    assert model.image_embed.weight.grad.abs().sum() > 0 and model.encoder.cnn.layers[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        other = model(images.flip(0), captions, lengths)["logits"]
        same = model(images, captions, lengths)["logits"]
    assert not torch.allclose(other[:, 0], same[:, 0])


def test_steps_return_no_attention():
    model = build("show_tell", tiny("input"))
    images, captions, _ = caption_batch(LENGTHS)
    context, state = model.start(model.encode(images))
    logits, state, attention = model.step(context, state, captions[:, 0])
    assert model.attends is False and attention is None and logits.shape == (3, VOCAB)


def test_parameter_count_by_hand():
    vocab, embed, hidden, feature = 9490, 512, 512, TINY_ENCODER.small_cnn_channels[-1]
    model = build("show_tell", ShowTellOptions(), vocab_size=vocab)
    decoder = (feature * embed + embed  # image_embed
               + 2 * embed  # image_norm (weight, bias)
               + vocab * embed  # embedding
               + 4 * hidden * (embed + hidden) + 2 * 4 * hidden  # lstm
               + hidden * vocab + vocab)  # fc
    encoder = sum(p.numel() for p in model.encoder.parameters())
    assert sum(p.numel() for p in model.parameters()) - encoder == decoder


def test_image_as_must_be_input_or_state():
    with pytest.raises(InvalidValue, match="image_as"):
        ShowTellOptions(image_as="both")
