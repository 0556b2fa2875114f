import pytest
import torch

from conftest import build_vqa_model, vqa_config
from vlkit.vqa.models import MODELS


def make_model(**overrides):
    config = vqa_config(*[f"model.{k}={v}" for k, v in overrides.items()])
    torch.manual_seed(0)
    return build_vqa_model(config.model_entry.name, config.model, vocab_size=30, num_answers=13).eval()


def batch(images=3, questions=7, length=6):
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(1, length + 1, (questions,), generator=generator)
    tokens = torch.randint(2, 30, (questions, length), generator=generator)
    tokens[torch.arange(length)[None, :] >= lengths[:, None]] = 0
    return {
        "images": torch.randint(0, 256, (images, 3, 64, 64), dtype=torch.uint8, generator=generator),
        "image_index": torch.randint(0, images, (questions,), generator=generator),
        "tokens": tokens,
        "lengths": lengths,
    }


def forward(model, b):
    return model(b)


def test_registry_lists_the_default_model():
    assert "cnn_lstm_att" in MODELS.names()


@pytest.mark.parametrize("glimpses", [1, 2])
def test_shapes_and_attention_normalised(glimpses):
    model = make_model(glimpses=glimpses)
    out = forward(model, batch())
    assert out["logits"].shape == (7, 13)
    assert out["attention"].shape == (7, glimpses, 8, 8)
    torch.testing.assert_close(out["attention"].sum(dim=(2, 3)), torch.ones(7, glimpses))


def test_each_distinct_image_is_encoded_once_per_batch():
    model = make_model()
    b = batch(images=3, questions=9)
    seen = []
    model.cnn.register_forward_hook(lambda module, args, output: seen.append(args[0].shape[0]))
    shared = forward(model, b)
    assert seen == [3]
    # the same questions with every image repeated per question give the same answers
    separate = forward(model, {**b, "images": b["images"][b["image_index"]], "image_index": torch.arange(9)})
    torch.testing.assert_close(shared["logits"], separate["logits"], rtol=1e-4, atol=1e-5)


def test_padding_tokens_change_nothing():
    model = make_model()
    b = batch()
    longer = torch.cat([b["tokens"], torch.zeros(7, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(forward(model, b)["logits"], forward(model, {**b, "tokens": longer})["logits"])


def test_other_questions_in_the_batch_change_nothing():
    model = make_model()
    b = batch()
    alone = {"images": b["images"][b["image_index"][:1]], "image_index": torch.zeros(1, dtype=torch.long),
             "tokens": b["tokens"][:1], "lengths": b["lengths"][:1]}
    torch.testing.assert_close(forward(model, b)["logits"][:1], forward(model, alone)["logits"], rtol=1e-4, atol=1e-5)
