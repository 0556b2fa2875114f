"""Reading DualVGR-VideoQA's checkpoints and vocabulary, and vlkit's DualVGR against the tensor-maths transcription.

`dualvgr_reference.py` writes the repository's forward pass out over its state dict; it was checked
once against the repository's own `model.models.DualVGR` (patched to run on the CPU), outside the
suite: equal key order and shapes, logits equal within 4e-7 for 1-3 units and 1-2 graph layers.
"""

from __future__ import annotations

import json

import pytest
import torch
from dualvgr_reference import dualvgr_shapes, padded_clip_batch, random_dualvgr_state, reference_logits

from vlkit.core.errors import VlkitError
from vlkit.videoqa.checkpoint_import import (check_vocab_fits, dualvgr_num_clips, dualvgr_options_from,
                                             dualvgr_sizes, dualvgr_state_shapes, read_dualvgr_checkpoint,
                                             read_dualvgr_vocab)
from vlkit.videoqa.models.dualvgr import DualVGROptions, build_dualvgr

VOCAB, ANSWERS, VISION, MODULE, WORD, CLIPS, FRAMES = 13, 7, 12, 16, 10, 5, 3
MODEL_KWARGS = {"vision_dim": VISION, "module_dim": MODULE, "word_dim": WORD, "num_of_nodes": CLIPS,
                "graph_module": "GAT", "graph_layers": 1}



def repository_checkpoint(state: dict[str, torch.Tensor], data_parallel: bool) -> dict:
    """What train.py `save_checkpoint` saves: epoch, the state dict (under DataParallel: `module.` keys), the
    Adam state dict after one step, model_kwargs."""
    parameters = [torch.nn.Parameter(value.clone()) for value in list(state.values())[:3]]
    optimizer = torch.optim.Adam(parameters, 1e-4)
    sum(p.sum() for p in parameters).backward()
    optimizer.step()
    prefix = "module." if data_parallel else ""
    return {"epoch": 11, "state_dict": {prefix + key: value for key, value in state.items()},
            "optimizer": optimizer.state_dict(), "model_kwargs": dict(MODEL_KWARGS)}


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return random_dualvgr_state(VOCAB, ANSWERS, VISION, MODULE, WORD, unit_layers=2, seed=3)


def vlkit_logits(options: dict, state: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """vlkit's DualVGR with `options` and the weights of `state` (strict), in eval mode -> logits (B, A)."""
    model = build_dualvgr(DualVGROptions(**options), vocab_size=VOCAB, num_answers=ANSWERS)
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        return model(batch)["logits"]


@pytest.mark.parametrize("units", [1, 2])
def test_vlkit_dualvgr_gives_the_repository_logits_on_padded_questions(units):
    state = random_dualvgr_state(VOCAB, ANSWERS, VISION, MODULE, WORD, unit_layers=units, seed=units)
    batch = padded_clip_batch(1, VOCAB, CLIPS, FRAMES, VISION)
    options = {"appearance_dim": VISION, "motion_dim": VISION, "module_dim": MODULE, "word_dim": WORD,
               "units": units}
    expected = reference_logits(state, batch["appearance"], batch["motion"], batch["questions"],
                                batch["question_lengths"])
    assert torch.allclose(vlkit_logits(options, state, batch), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("data_parallel", [False, True])
@pytest.mark.parametrize("zip_format", [True, False])
def test_a_repository_checkpoint_reads_back_with_its_state_and_model_kwargs(tmp_path, state, data_parallel,
                                                                            zip_format):
    path = tmp_path / "DualVGR12021-01-24_Sunday_10:08:22_model.pt"
    torch.save(repository_checkpoint(state, data_parallel), path, _use_new_zipfile_serialization=zip_format)
    read_state, model_kwargs = read_dualvgr_checkpoint(path)
    assert model_kwargs == MODEL_KWARGS
    assert list(read_state) == list(state)
    assert all(torch.equal(read_state[key], state[key]) for key in state)


def test_an_imported_checkpoint_gives_the_repository_logits_through_the_inferred_options(tmp_path, state):
    path = tmp_path / "model.pt"
    torch.save(repository_checkpoint(state, data_parallel=True), path)
    read_state, model_kwargs = read_dualvgr_checkpoint(path)
    options = dualvgr_options_from(model_kwargs, read_state)
    batch = padded_clip_batch(5, VOCAB, CLIPS, FRAMES, VISION)
    expected = reference_logits(state, batch["appearance"], batch["motion"], batch["questions"],
                                batch["question_lengths"])
    assert torch.allclose(vlkit_logits(options, read_state, batch), expected, atol=1e-5, rtol=0)


def test_the_options_are_the_sizes_the_fixture_was_built_with(state):
    assert dualvgr_options_from(MODEL_KWARGS, state) == {
        "appearance_dim": VISION, "motion_dim": VISION, "module_dim": MODULE, "word_dim": WORD, "units": 2,
        "gat_heads": 4, "mfb_dim": 256, "mfb_factor": 2}
    assert dualvgr_num_clips(MODEL_KWARGS) == CLIPS


@pytest.mark.parametrize("units, graph_layers", [(2, 1), (3, 2)])
def test_the_expected_layout_is_the_repositorys_at_small_and_msvd_sizes(units, graph_layers):
    for vocab, answers, vision, module, word in [(VOCAB, ANSWERS, VISION, MODULE, WORD), (4000, 1854, 2048, 768, 300)]:
        expected = dualvgr_shapes(vocab, answers, vision, module, word, units, graph_layers)
        sizes = dualvgr_sizes({key: torch.empty(shape, device="meta") for key, shape in expected.items()})
        assert (sizes.units, sizes.graph_layers, sizes.gat_heads, sizes.mfb_dim) == (units, graph_layers, 4, 256)
        assert dualvgr_state_shapes(sizes) == expected


def test_a_truncated_checkpoint_is_refused(tmp_path, state):
    path = tmp_path / "model.pt"
    torch.save(repository_checkpoint(state, data_parallel=False), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(VlkitError, match="truncated"):
        read_dualvgr_checkpoint(path)


def test_a_missing_parameter_is_named(tmp_path, state):
    checkpoint = repository_checkpoint(state, data_parallel=True)
    del checkpoint["state_dict"]["module.visual_input_unit.acGCN.1.attention_2.a.weight"]
    torch.save(checkpoint, tmp_path / "model.pt")
    with pytest.raises(VlkitError, match=r"missing 1: \['visual_input_unit.acGCN.1.attention_2.a.weight'\]"):
        read_dualvgr_checkpoint(tmp_path / "model.pt")


def test_a_checkpoint_without_the_batch_norm_counter_reads_with_a_zero_counter(tmp_path, state):
    checkpoint = repository_checkpoint(state, data_parallel=False)
    del checkpoint["state_dict"]["output_unit.classifier.3.num_batches_tracked"]
    torch.save(checkpoint, tmp_path / "model.pt")
    read_state, _ = read_dualvgr_checkpoint(tmp_path / "model.pt")
    assert set(read_state) == set(state)
    assert read_state["output_unit.classifier.3.num_batches_tracked"].item() == 0


def test_a_misshapen_parameter_is_named(tmp_path, state):
    checkpoint = repository_checkpoint(state, data_parallel=False)
    checkpoint["state_dict"]["output_unit.question_proj.bias"] = torch.zeros(MODULE + 1)
    torch.save(checkpoint, tmp_path / "model.pt")
    with pytest.raises(VlkitError, match=r"output_unit.question_proj.bias \(17,\) \(expected \(16,\)\)"):
        read_dualvgr_checkpoint(tmp_path / "model.pt")


def test_an_hcrn_checkpoint_in_the_same_layout_is_not_taken_for_dualvgr(tmp_path):
    hcrn_state = {"linguistic_input_unit.encoder_embed.weight": torch.zeros(VOCAB, WORD),
                  "visual_input_unit.clip_level_motion_cond.0.weight": torch.zeros(4, 4),
                  "output_unit.classifier.5.weight": torch.zeros(ANSWERS, MODULE)}
    torch.save({"epoch": 1, "state_dict": hcrn_state, "optimizer": {},
                "model_kwargs": {"k_max_frame_level": 16, "k_max_clip_level": 8, "spl_resolution": 1}},
               tmp_path / "model.pt")
    with pytest.raises(VlkitError, match="not a DualVGR checkpoint"):
        read_dualvgr_checkpoint(tmp_path / "model.pt")


def test_a_bare_state_dict_or_a_pickled_module_is_refused(tmp_path, state):
    torch.save(state, tmp_path / "bare.pt")
    with pytest.raises(VlkitError, match=r"expected a dict with \['state_dict', 'model_kwargs'\]"):
        read_dualvgr_checkpoint(tmp_path / "bare.pt")
    torch.save({"state_dict": torch.nn.Linear(2, 2), "model_kwargs": {}}, tmp_path / "module.pt")
    with pytest.raises(VlkitError, match="pickled Python objects"):
        read_dualvgr_checkpoint(tmp_path / "module.pt")
    with pytest.raises(VlkitError, match="checkpoint not found"):
        read_dualvgr_checkpoint(tmp_path / "absent.pt")


def test_model_kwargs_that_contradict_the_shapes_or_another_graph_are_refused(state):
    with pytest.raises(VlkitError, match="module_dim=768 but its parameters have 16"):
        dualvgr_options_from({**MODEL_KWARGS, "module_dim": 768}, state)
    with pytest.raises(VlkitError, match="graph_module='GCN'"):
        dualvgr_options_from({**MODEL_KWARGS, "graph_module": "GCN"}, state)
    two_graph_layers = random_dualvgr_state(VOCAB, ANSWERS, VISION, MODULE, WORD, unit_layers=2, graph_layers=2)
    with pytest.raises(VlkitError, match="graph_layers=2"):
        dualvgr_options_from({**MODEL_KWARGS, "graph_layers": 2}, two_graph_layers)


def write_vocab(path, questions: dict, answers: dict) -> None:
    path.write_text(json.dumps({"question_token_to_idx": questions, "answer_token_to_idx": answers,
                                "question_answer_token_to_idx": {"<NULL>": 0, "<UNK>": 1}}, indent=4))


def test_the_vocabulary_json_gives_words_and_answers_in_index_order(tmp_path):
    write_vocab(tmp_path / "msvd-qa_vocab.json", {"<NULL>": 0, "<UNK>": 1, "what": 2, "is": 3, "a": 5, "man": 4},
                {"<UNK0>": 0, "<UNK1>": 1, "man": 3, "dog": 2})
    words, answers = read_dualvgr_vocab(tmp_path / "msvd-qa_vocab.json")
    assert words == ["<NULL>", "<UNK>", "what", "is", "man", "a"]
    assert answers == ["<UNK0>", "<UNK1>", "dog", "man"]


@pytest.mark.parametrize("questions, answers, message", [
    ({"<NULL>": 0, "<UNK>": 1, "what": 3}, {"<UNK0>": 0, "<UNK1>": 1, "man": 2}, r"must be 0..2, each once"),
    ({"<UNK>": 0, "<NULL>": 1, "what": 2}, {"<UNK0>": 0, "<UNK1>": 1, "man": 2}, r"must start with '<NULL>' = 0"),
    ({"<NULL>": 0, "<UNK>": 1}, {"man": 0, "<UNK1>": 1, "<UNK0>": 2}, r"must start with '<UNK0>' = 0"),
    ({"<NULL>": 0, "<UNK>": "1"}, {"<UNK0>": 0, "<UNK1>": 1}, r"must map strings to integer indices"),
])
def test_a_malformed_vocabulary_is_refused_with_what_is_wrong(tmp_path, questions, answers, message):
    write_vocab(tmp_path / "vocab.json", questions, answers)
    with pytest.raises(VlkitError, match=message):
        read_dualvgr_vocab(tmp_path / "vocab.json")


def test_a_file_that_is_not_the_vocabulary_is_refused(tmp_path):
    (tmp_path / "train_qa.json").write_text(json.dumps([{"question": "what is it?", "answer": "dog"}]))
    with pytest.raises(VlkitError, match="not a DualVGR/HCRN vocabulary"):
        read_dualvgr_vocab(tmp_path / "train_qa.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(VlkitError, match="not a JSON file"):
        read_dualvgr_vocab(tmp_path / "broken.json")


def test_a_vocabulary_of_other_sizes_than_the_checkpoint_is_refused(state):
    check_vocab_fits(state, [f"w{i}" for i in range(VOCAB)], [f"a{i}" for i in range(ANSWERS)])
    with pytest.raises(VlkitError, match="12 question words and 7 answers but the checkpoint has 13"):
        check_vocab_fits(state, [f"w{i}" for i in range(VOCAB - 1)], [f"a{i}" for i in range(ANSWERS)])
