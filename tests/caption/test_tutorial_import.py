"""`vlkit caption import --from sgrvinod`: a tutorial checkpoint becomes a run whose model computes what the
tutorial's decoder computes (its forward and beam search written as tensor maths over the checkpoint's keys),
and which evaluates on the tutorial's own prepared files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tutorial_beam_search import tutorial_beam_search
from tutorial_checkpoint_fixture import write_tutorial_checkpoint
from tutorial_reference import tutorial_decode_step, tutorial_decoder_forward, tutorial_init_hidden_state

from vlkit.caption.data.word_map import WordMap
from vlkit.caption.task import CaptionTask
from vlkit.caption.tutorial_run import import_tutorial_run
from vlkit.core.errors import VlkitError
from vlkit.core.evaluate import evaluate_run
from vlkit.core.predictor import load_run

WORDS = [f"w{i}" for i in range(19)]  # + <unk> <start> <end> <pad>: the checkpoint's 23 words
BASE = "coco_5_cap_per_img_5_min_word_freq"
END_SHARPNESS = 50.0
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tutorial")
    modules = write_tutorial_checkpoint(folder / f"BEST_checkpoint_{BASE}.pth.tar", vocab_size=23,
                                        encoded_image_size=3, fine_tune_encoder=True)
    word_map = WordMap.from_words(WORDS)
    word_map.save(folder / f"WORDMAP_{BASE}.json")
    run_dir = import_tutorial_run(folder / f"BEST_checkpoint_{BASE}.pth.tar", folder / f"WORDMAP_{BASE}.json",
                                  folder / "runs" / "imported")
    trained = load_run(CaptionTask(), run_dir)
    return modules, word_map, trained, folder


def tutorial_encoder_out(modules, images: torch.Tensor) -> torch.Tensor:
    """caption.py's image path: uint8 (B, 3, S, S) / 255, ImageNet normalisation, the tutorial's Encoder ->
    (B, P, D)."""
    pixels = (images.float() / 255.0 - MEAN[:, None, None]) / STD[:, None, None]
    modules.encoder.eval()
    with torch.no_grad():
        out = modules.encoder(pixels)  # (B, G, G, D)
    return out.reshape(out.shape[0], -1, out.shape[-1])


def test_the_imported_run_records_the_checkpoint_sizes(imported):
    _, _, trained, _ = imported
    config = trained.config
    assert (config.model.embed_dim, config.model.attention_dim, config.model.decoder_dim, config.model.grid_size) == \
        (16, 12, 20, 3)
    assert config.sections["encoder"].backbone == "resnet18" and config.sections["encoder"].fine_tune
    assert json.loads((trained.run_dir / "run.json").read_text())["tutorial_epoch"] == 7


def test_the_imported_model_gives_the_tutorial_decoders_scores(imported):
    modules, word_map, trained, _ = imported
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (4, 3, 64, 64), dtype=np.uint8))
    captions = torch.tensor([[20, 1, 2, 3, 21, 0], [20, 4, 21, 0, 0, 0], [20, 5, 6, 7, 8, 21], [20, 9, 10, 21, 0, 0]])
    lengths = torch.tensor([5, 3, 6, 4])
    encoder_out = tutorial_encoder_out(modules, images)
    model = trained.module.model
    with torch.no_grad():
        assert torch.allclose(model.encode(images), encoder_out, atol=1e-5)
        ours = model(images, captions, lengths)
    decoder_state = {k: v.detach() for k, v in modules.decoder.state_dict().items()}
    predictions, alphas, decode_lengths, order = tutorial_decoder_forward(decoder_state, encoder_out, captions, lengths)
    for sorted_row, row in enumerate(order.tolist()):
        steps = decode_lengths[sorted_row]
        assert torch.allclose(ours["logits"][row, :steps], predictions[sorted_row, :steps], atol=1e-5)
        assert torch.allclose(ours["attention"][row, :steps], alphas[sorted_row, :steps], atol=1e-5)


def test_the_imported_run_decodes_the_tutorial_beam_search_captions(imported):
    modules, word_map, trained, _ = imported
    images = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (6, 3, 64, 64), dtype=np.uint8))
    encoder_out = tutorial_encoder_out(modules, images)
    decoder_state = {k: v.detach() for k, v in modules.decoder.state_dict().items()}

    def step(state, words):
        log_probs, h, c, alpha = tutorial_decode_step(decoder_state, state["encoder_out"], state["h"], state["c"], words)
        return log_probs, {"encoder_out": state["encoder_out"], "h": h, "c": c}, alpha

    # A random decoder ends its captions at once or never. Its state drifts along a direction d over the first
    # steps: an <end> logit that grows along d ends the captions after a few words. Both sides get these weights.
    h, c = tutorial_init_hidden_state(decoder_state, encoder_out[:1])
    words, states = torch.tensor([word_map.start]), []
    for _ in range(8):
        log_probs, h, c, _ = tutorial_decode_step(decoder_state, encoder_out[:1], h, c, words)
        words = log_probs.argmax(1)
        states.append(h[0])
    drift = states[7] - states[1]
    direction = drift / drift.norm()
    weight, bias = decoder_state["fc.weight"].clone(), decoder_state["fc.bias"].clone()
    weight[word_map.end] = END_SHARPNESS * direction
    bias[word_map.end] = -END_SHARPNESS * float(direction @ states[3])
    decoder_state["fc.weight"], decoder_state["fc.bias"] = weight, bias
    fc = trained.module.model.decoder.fc
    original = {name: value.detach().clone() for name, value in fc.state_dict().items()}
    fc.load_state_dict({"weight": decoder_state["fc.weight"], "bias": decoder_state["fc.bias"]})
    try:
        decoded = trained.module.decode(images, beam_size=3)
    finally:
        fc.load_state_dict(original)
    for b in range(len(images)):
        h, c = tutorial_init_hidden_state(decoder_state, encoder_out[b:b + 1])
        seq, score, _ = tutorial_beam_search(step, {"encoder_out": encoder_out[b:b + 1], "h": h, "c": c},
                                             word_map.start, word_map.end, beam_size=3)
        length = int(decoded.lengths[b])
        assert decoded.tokens[b, :length].tolist() == seq[1:-1]
        assert float(decoded.scores[b]) == pytest.approx(score, abs=1e-5)
    assert len(set(decoded.lengths.tolist())) > 1 and int(decoded.lengths.min()) > 0  # captions of several lengths


def test_the_imported_run_evaluates_on_the_tutorials_prepared_files(imported):
    import h5py

    _, word_map, trained, folder = imported
    images = np.random.default_rng(3).integers(0, 256, (3, 3, 64, 64), dtype=np.uint8)
    captions = [[20, 1 + (i % 5), 2, 21, 0] for i in range(15)]
    for split in ("TRAIN", "VAL", "TEST"):
        with h5py.File(folder / f"{split}_IMAGES_{BASE}.hdf5", "w") as handle:
            handle.attrs["captions_per_image"] = 5
            handle.create_dataset("images", data=images, dtype="uint8")
        (folder / f"{split}_CAPTIONS_{BASE}.json").write_text(json.dumps(captions))
        (folder / f"{split}_CAPLENS_{BASE}.json").write_text(json.dumps([4] * 15))
    report = evaluate_run(CaptionTask(), trained.run_dir, "test", overrides=[f"data.folder={folder}"])
    rows = json.loads((trained.run_dir / "predictions_test.json").read_text())
    assert report["num_questions"] == 3 and [row["image_id"] for row in rows] == [0, 1, 2]
    assert {"Bleu_4", "CIDEr", "ROUGE_L", "tutorial_bleu4"} <= set(report)


def test_a_word_map_of_another_size_is_refused(imported, tmp_path):
    _, _, _, folder = imported
    WordMap.from_words(WORDS[:5]).save(tmp_path / "WORDMAP_small.json")
    with pytest.raises(VlkitError, match="predicts 23 words but .* has 9"):
        import_tutorial_run(folder / f"BEST_checkpoint_{BASE}.pth.tar", tmp_path / "WORDMAP_small.json",
                            tmp_path / "run")


def test_an_existing_run_directory_is_never_overwritten(imported):
    _, _, trained, folder = imported
    with pytest.raises(VlkitError, match="never overwritten"):
        import_tutorial_run(folder / f"BEST_checkpoint_{BASE}.pth.tar", folder / f"WORDMAP_{BASE}.json",
                            trained.run_dir)
