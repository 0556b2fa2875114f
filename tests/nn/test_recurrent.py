"""run_lstm: each padded question is read as if it were alone, and an empty question is a clear error."""

import pytest
import torch
from torch import nn

from vlkit.core.errors import VlkitError
from vlkit.nn.recurrent import bidirectional_last_states, run_lstm


def test_each_question_reads_as_if_alone_and_padding_never_reaches_the_lstm():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    embedded = torch.randn(3, 5, 4)
    lengths = torch.tensor([2, 5, 3])
    outputs, (hidden, cell) = run_lstm(lstm, embedded, lengths)
    assert outputs.shape == (3, 5, 6) and hidden.shape == cell.shape == (2, 3, 6)
    for row, length in enumerate(lengths.tolist()):
        alone, (alone_hidden, alone_cell) = lstm(embedded[row : row + 1, :length])
        torch.testing.assert_close(outputs[row, :length], alone[0])
        assert torch.all(outputs[row, length:] == 0)
        torch.testing.assert_close(hidden[:, row], alone_hidden[:, 0])
        torch.testing.assert_close(cell[:, row], alone_cell[:, 0])


def test_an_empty_question_names_its_batch_row():
    lstm = nn.LSTM(4, 6, batch_first=True)
    with pytest.raises(VlkitError, match=r"rows \[1\] have no words"):
        run_lstm(lstm, torch.randn(2, 3, 4), torch.tensor([2, 0]))


def test_gradients_equal_those_through_pytorchs_packed_lstm():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    embedded = torch.randn(4, 5, 4, requires_grad=True)
    lengths = torch.tensor([2, 5, 3, 5])
    outputs, (hidden, cell) = run_lstm(lstm, embedded, lengths)
    (outputs.square().sum() + hidden.sum() + 2 * cell.sum()).backward()
    ours = [embedded.grad.clone()] + [p.grad.clone() for p in lstm.parameters()]
    embedded.grad = None
    lstm.zero_grad()
    packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
    packed_outputs, (hidden, cell) = lstm(packed)
    outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=5)
    (outputs.square().sum() + hidden.sum() + 2 * cell.sum()).backward()
    for mine, theirs in zip(ours, [embedded.grad] + [p.grad for p in lstm.parameters()]):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


def test_dropout_between_layers_applies_in_training_only():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, dropout=0.5, batch_first=True).eval()
    embedded, lengths = torch.randn(3, 4, 4), torch.tensor([4, 2, 3])
    evaluated, _ = run_lstm(lstm, embedded, lengths)
    alone, _ = lstm(embedded[:1])
    torch.testing.assert_close(evaluated[0], alone[0])
    lstm.train()
    trained, _ = run_lstm(lstm, embedded, lengths)
    assert not torch.allclose(trained[0], alone[0])


@pytest.mark.parametrize("bias", [True, False])
def test_bidirectional_last_states_equal_the_fused_lstms_and_so_do_their_gradients(bias):
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 5, batch_first=True, bidirectional=True, bias=bias)
    inputs = torch.randn(4, 7, 6, requires_grad=True)
    fused_hidden = lstm(inputs)[1][0]
    fused = torch.cat([fused_hidden[0], fused_hidden[1]], dim=-1)
    (fused_grad_input, *fused_grad_weights) = torch.autograd.grad(fused.square().sum(), [inputs, *lstm.parameters()])
    ours = bidirectional_last_states(lstm, inputs)
    (grad_input, *grad_weights) = torch.autograd.grad(ours.square().sum(), [inputs, *lstm.parameters()])
    assert torch.allclose(ours, fused, atol=1e-6)
    assert torch.allclose(grad_input, fused_grad_input, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grad_weights, fused_grad_weights))
