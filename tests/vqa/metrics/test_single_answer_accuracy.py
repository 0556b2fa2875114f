import pytest
import torch

from vlkit.vqa.data.easyvqa_files import ANSWER_TYPES
from vlkit.vqa.metrics.single_answer import count_correct, single_answer_report


def test_accuracy_per_answer_type_by_hand():
    # types: yes/no x4 (3 right), shape x2 (1 right), color x1 (0 right) -> 4/7 overall
    types = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    answers = torch.tensor([0, 1, 0, 1, 2, 3, 5])
    predicted = torch.tensor([0, 1, 0, 0, 2, 4, 6])
    correct, total = count_correct(predicted, answers, types, len(ANSWER_TYPES))
    assert correct.tolist() == [3, 1, 0] and total.tolist() == [4, 2, 1]
    report = single_answer_report(correct, total, ANSWER_TYPES)
    assert report == {"overall": 57.14, "perAnswerType": {"yes/no": 75.0, "shape": 50.0, "color": 0.0}}


def test_types_without_questions_are_left_out_and_empty_is_an_error():
    report = single_answer_report(torch.tensor([2, 0, 0]), torch.tensor([3, 0, 0]), ANSWER_TYPES)
    assert report == {"overall": 66.67, "perAnswerType": {"yes/no": 66.67}}
    with pytest.raises(ValueError):
        single_answer_report(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), ANSWER_TYPES)
