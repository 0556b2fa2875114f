"""The speed benchmark's baselines compute the reference models, and vlkit's fast paths the same outputs and gradients.

benchmarks/reference_training.py transcribes mcan-vqa's and pytorch-vqa's modules for the training
speed comparison (benchmarks/training_speed.py). Here, on shared weights: the transcriptions give
the logits of the step-by-step reference maths (reference_forward.py), and vlkit's models (packed
rows, fused projections, scaled_dot_product_attention, the step-wise LSTM, channels-last SAAA
attention) give the same logits and the same parameter gradients.
"""

import importlib.util

import torch
from conftest import REPO, build_vqa_model
from reference_forward import mcan_vqa_logits, pytorch_vqa_logits
from vlkit.vqa.models.mcan import McanOptions
from vlkit.vqa.models.saaa import SaaaOptions

spec = importlib.util.spec_from_file_location("reference_training", REPO / "benchmarks" / "reference_training.py")
reference_training = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_training)

MCAN = dict(feature_dim=12, embed_dim=8, hidden_size=16, heads=2, layers=2, flat_out_size=32)


def mcan_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    ours = build_vqa_model("mcan_small", McanOptions(**MCAN), vocab_size=30, num_answers=7).eval()
    reference = reference_training.ReferenceMcan(
        30, 7, hidden=16, flat_out=32, heads=2, layers=2, embed_dim=8, feature_dim=12).eval()
    reference.load_state_dict(ours.state_dict())
    return ours, reference


def mcan_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    boxes, lengths = torch.tensor([6, 2, 4]), torch.tensor([5, 1, 3])
    mask = torch.arange(6)[None] < boxes[:, None]
    tokens = torch.randint(1, 30, (3, 5), generator=g)
    tokens[torch.arange(5)[None] >= lengths[:, None]] = 0
    return {"features": torch.rand(3, 6, 12, generator=g) * mask[:, :, None], "feature_mask": mask,
            "tokens": tokens, "lengths": lengths}


def test_mcan_transcription_equals_the_step_by_step_reference_maths():
    ours, reference = mcan_pair()
    batch = mcan_batch()
    expected = torch.sigmoid(mcan_vqa_logits(reference.state_dict(), batch["tokens"], batch["features"], heads=2))
    torch.testing.assert_close(reference(batch["features"], batch["tokens"]), expected, rtol=1e-5, atol=1e-6)


def test_mcan_packed_rows_give_the_references_logits_and_gradients():
    ours, reference = mcan_pair()
    batch = mcan_batch()
    targets = torch.rand(3, 7)
    logits = ours(batch)["logits"]
    torch.testing.assert_close(torch.sigmoid(logits), reference(batch["features"], batch["tokens"]),
                               rtol=1e-5, atol=1e-6)
    torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum").backward()
    torch.nn.BCELoss(reduction="sum")(reference(batch["features"], batch["tokens"]), targets).backward()
    theirs = dict(reference.named_parameters())
    for name, parameter in ours.named_parameters():
        torch.testing.assert_close(parameter.grad, theirs[name].grad, rtol=1e-4, atol=1e-6, msg=name)


def saaa_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    ours = build_vqa_model("saaa", SaaaOptions(feature_dim=16), vocab_size=30, num_answers=9).eval()
    reference = reference_training.ReferenceSaaa(30, 9, feature_dim=16).eval()
    reference.load_state_dict(ours.state_dict())
    return ours, reference


def test_saaa_channels_last_attention_gives_the_references_logits_and_gradients():
    ours, reference = saaa_pair()
    g = torch.Generator().manual_seed(2)
    lengths = torch.tensor([6, 4, 1])  # longest first, as pytorch-vqa's collate function sorts them
    tokens = torch.randint(1, 30, (3, 6), generator=g)
    tokens[torch.arange(6)[None] >= lengths[:, None]] = 0
    grid = torch.rand(3, 16, 14, 14, generator=g)
    cells = grid.flatten(2).transpose(1, 2)  # (B, 196, 16), the store's layout
    logits = ours({"features": cells, "feature_mask": torch.ones(3, 196, dtype=torch.bool), "tokens": tokens,
                   "lengths": lengths})["logits"]
    expected = reference(grid, tokens, lengths)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    question_ix = [row[:length].tolist() for row, length in zip(tokens, lengths)]
    torch.testing.assert_close(expected, pytorch_vqa_logits(reference.state_dict(), question_ix, grid),
                               rtol=1e-5, atol=1e-5)
    counts = torch.randint(0, 4, (3, 9)).float()
    for model, output in ((ours, logits), (reference, expected)):
        (-(torch.log_softmax(output, dim=1) * counts / 10).sum(dim=1).mean()).backward()
    theirs = dict(reference.named_parameters())
    for name, parameter in ours.named_parameters():
        torch.testing.assert_close(parameter.grad, theirs[name].grad, rtol=1e-4, atol=1e-6, msg=name)
