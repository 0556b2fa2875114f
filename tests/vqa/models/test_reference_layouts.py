"""vlkit's MCAN and SAAA have exactly the parameter names and shapes of the reference implementations
(tests/data/reference_layouts.json, read off mcan-vqa's and pytorch-vqa's own models), so their
checkpoints load one to one."""

import json
from pathlib import Path

import pytest

from conftest import build_vqa_model
from vlkit.vqa.models.mcan import McanLargeOptions, McanOptions
from vlkit.vqa.models.saaa import SaaaOptions

LAYOUTS = json.loads((Path(__file__).resolve().parents[2] / "data" / "reference_layouts.json").read_text())


def layout(model):
    return {name: list(tensor.shape) for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize("name, options", [("mcan_small", McanOptions()), ("mcan_large", McanLargeOptions())])
def test_mcan_has_the_parameter_names_and_shapes_of_mcan_vqa(name, options):
    reference = LAYOUTS[name]
    model = build_vqa_model(name, options, vocab_size=reference["token_size"], num_answers=reference["answer_size"])
    assert layout(model) == reference["state"]


def test_saaa_has_the_parameter_names_and_shapes_of_pytorch_vqa_but_one_more_embedding_row():
    reference = LAYOUTS["saaa"]
    # pytorch-vqa's row 0 is padding and unknown words at once; vlkit has PAD and UNK rows
    model = build_vqa_model("saaa", SaaaOptions(), vocab_size=reference["embedding_tokens"] + 1,
                            num_answers=reference["answers"])
    expected = dict(reference["state"])
    expected["text.embedding.weight"] = [reference["embedding_tokens"] + 1, 300]
    assert layout(model) == expected
