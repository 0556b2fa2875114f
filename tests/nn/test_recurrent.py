"""run_lstm: each padded question is read as if it were alone, and an empty question is a clear error."""

import pytest
import torch
from torch import nn

from vlkit.core.errors import VlkitError
from vlkit.nn.recurrent import run_lstm


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
