"""The VQA module's losses: cross-entropy on one answer per question (easy-VQA), by hand."""

import math

import pytest
import torch

from conftest import vqa_config, vqa_module


def small_batch():
    return {"images": torch.zeros(1, 3, 64, 64, dtype=torch.uint8), "image_index": torch.zeros(2, dtype=torch.long),
            "tokens": torch.tensor([[2, 3], [4, 0]]), "lengths": torch.tensor([2, 1]), "answers": torch.tensor([0, 1]),
            "index": torch.tensor([0, 1])}


def test_training_loss_is_cross_entropy_on_the_answer_index():
    module = vqa_module(vqa_config(), vocab_size=10, num_answers=13)
    logits = torch.zeros(2, 13)
    logits[0, 0] = math.log(12.0)  # p(answer 0) = 12 / (12 + 12) = 0.5 for the first question
    module.model.forward = lambda batch: {"logits": logits}
    loss = module.training_step(small_batch(), 0)
    expected = (-math.log(0.5) - math.log(1 / 13)) / 2  # second question: uniform, p(answer 1) = 1 / 13
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_mcan_loss_is_binary_cross_entropy_summed_over_answers_and_averaged_over_questions():
    module = vqa_module(vqa_config("data.dataset=vqa", "model.name=mcan_small"), vocab_size=10, num_answers=2)
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])  # sigmoid: [0.5, 0.75], [0.5, 0.5]
    module.model.forward = lambda batch: {"logits": logits}
    targets = torch.tensor([[1.0, 0.3], [0.0, 0.0]])
    loss = module.training_step({"targets": targets, "index": torch.tensor([0, 1])}, 0)
    first = -math.log(0.5) - (0.3 * math.log(0.75) + 0.7 * math.log(0.25))
    second = 2 * -math.log(0.5)
    assert loss.item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_a_fresh_mcan_module_starts_its_word_embeddings_from_glove_as_mcan_vqa_and_a_loaded_one_does_not(tmp_path):
    from vlkit.text.vocabulary import Vocabulary
    from vlkit.vqa.data.vocabularies import VQAVocabularies
    from vlkit.vqa.task import VQATask

    glove = tmp_path / "glove.txt"
    glove.write_text("what 1 2 3 4\ncolor -1 -2 -3 -4\nPAD 9 9 9 9\nUNK 7 7 7 7\n")
    config_overrides = ["data.dataset=vqa", "model.name=mcan_small", f"model.glove={glove}", "model.embed_dim=4",
                        "model.hidden_size=8", "model.heads=2", "model.layers=1", "model.flat_mlp_size=4",
                        "model.flat_out_size=8"]
    config = vqa_config(*config_overrides)
    vocabularies = VQAVocabularies(Vocabulary(["what", "color", "zorblax"], tokenizer="mcan"), ["red", "blue"])
    embedding = VQATask().build_module(config, vocabularies, fresh=True).model.embedding.weight
    assert embedding[2].tolist() == [1, 2, 3, 4] and embedding[3].tolist() == [-1, -2, -3, -4]
    # mcan-vqa's rows: PAD and UNK take GloVe's vectors of "PAD" and "UNK"; a word GloVe lacks is zeros
    assert embedding[0].tolist() == [9, 9, 9, 9] and embedding[1].tolist() == [7, 7, 7, 7]
    assert not embedding[4].any()
    vlkit_rows = VQATask().build_module(vqa_config(*config_overrides, "model.glove_rows=vlkit"), vocabularies,
                                        fresh=True).model.embedding.weight
    assert not vlkit_rows[0].any() and vlkit_rows[1].abs().sum() > 0 and vlkit_rows[4].abs().sum() > 0
    loaded = VQATask().build_module(config, vocabularies, fresh=False).model.embedding.weight
    assert loaded[2].tolist() != [1, 2, 3, 4]  # weights will come from a checkpoint: GloVe is not read
