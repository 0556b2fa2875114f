"""`vlkit vqa check`: sanity report on VQA data before anyone trains on it.

Hard errors (raised while reading): caption files given as VQA files, questions without
annotations or with other ids, result files for another split. Reported: answer-vocabulary
coverage, the accuracy of answering every question with the most common training answer of its
answer type (the baseline a model must beat; "yes" for yes/no), question and answer lengths, and
images shared by the training and evaluation splits.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Optional

import numpy as np

from vlkit.features.store import FeatureStore
from vlkit.text.tokenizers import MCAN_MAX_TOKENS, mcan_tokenize
from vlkit.vqa.data.answer_lists import ANSWER_LISTS, coverage, mcan_answer
from vlkit.vqa.data.official_checks import check_coverage
from vlkit.vqa.data.splits import VQASplit
from vlkit.vqa.metrics.official import accuracy_report, batch_accuracy


def majority_baseline(train: VQASplit, evaluation: VQASplit) -> dict:
    """Official accuracy on `evaluation` of answering each question with the most common training answer of its type."""
    by_type: dict[str, Counter] = {}
    for annotation in train.annotations.values():
        by_type.setdefault(annotation.answer_type, Counter())[mcan_answer(annotation.multiple_choice_answer)] += 1
    overall_majority = Counter(mcan_answer(a.multiple_choice_answer) for a in train.annotations.values())
    fallback = overall_majority.most_common(1)[0][0]
    chosen = {answer_type: counts.most_common(1)[0][0] for answer_type, counts in by_type.items()}
    annotations = list(evaluation.annotations.values())
    answers = [chosen.get(a.answer_type, fallback) for a in annotations]
    report = accuracy_report(batch_accuracy(answers, [a.answers for a in annotations]),
                             [a.answer_type for a in annotations], [a.question_type for a in annotations])
    return {"answer_per_type": chosen, "overall": report["overall"], "perAnswerType": report["perAnswerType"]}


def length_stats(split: VQASplit) -> dict:
    """Question length in MCAN tokens (mean, max, % longer than 14) and answer length in words."""
    question_lengths = [len(mcan_tokenize(q.question)) for q in split.questions.values()]
    stats = {
        "question_tokens_mean": round(statistics.fmean(question_lengths), 2),
        "question_tokens_max": max(question_lengths),
        "questions_truncated_percent": round(100 * sum(n > MCAN_MAX_TOKENS for n in question_lengths)
                                             / len(question_lengths), 2),
    }
    if split.annotations:
        answer_lengths = [len(a.multiple_choice_answer.split()) for a in split.annotations.values()]
        stats.update(answer_words_mean=round(statistics.fmean(answer_lengths), 2),
                     answer_words_max=max(answer_lengths))
    return stats


def images_without_features(split: VQASplit, store: FeatureStore) -> list[int]:
    """Image ids of the split that have no finished row in the feature store, sorted."""
    image_ids = np.array(sorted({q.image_id for q in split.questions.values()}), dtype=np.int64)
    return image_ids[~store.has(image_ids)].tolist()


def check_splits(train: VQASplit, evaluation: Optional[VQASplit] = None,
                 results: Optional[list[tuple[int, str]]] = None, vocabulary: str = "mcan",
                 store: Optional[FeatureStore] = None, answers: Optional[list[str]] = None) -> dict:
    """The whole report as a JSON-ready dict, with a list of warnings. Coverage is of `answers` (the list a run
    trains with), or, without it, of the `vocabulary` kind's list built from `train`."""
    normalise = ANSWER_LISTS[vocabulary].normalise
    warnings: list[str] = []
    train_annotations = list(train.annotations.values())
    if answers is None:
        answers = ANSWER_LISTS[vocabulary].build(train_annotations)
    report: dict = {
        "train": {"split": train.name, "questions": len(train.questions),
                  "images": len({q.image_id for q in train.questions.values()}), **length_stats(train)},
        "answer_vocabulary": {"kind": vocabulary, "size": len(answers),
                              "train_coverage": vars(coverage(train_annotations, answers, normalise))},
    }
    if evaluation is not None:
        report["eval"] = {"split": evaluation.name, "questions": len(evaluation.questions),
                          "images": len({q.image_id for q in evaluation.questions.values()}),
                          **length_stats(evaluation)}
        shared = {q.image_id for q in train.questions.values()} & {q.image_id for q in evaluation.questions.values()}
        report["eval"]["images_also_in_train"] = len(shared)
        if shared:
            warnings.append(f"{len(shared)} image(s) appear in both {train.name} and {evaluation.name}: "
                            "evaluation numbers will be optimistic")
        if evaluation.annotations:
            eval_annotations = list(evaluation.annotations.values())
            report["answer_vocabulary"]["eval_coverage"] = vars(coverage(eval_annotations, answers, normalise))
            report["majority_baseline"] = majority_baseline(train, evaluation)
        if results is not None:
            check_coverage(results, set(evaluation.questions))
            report["results"] = {"answers": len(results), "matches_eval_split": True}
    if store is not None:
        for key, split in (("train", train), ("eval", evaluation)):
            if split is None:
                continue
            missing = images_without_features(split, store)
            report[key]["images_without_features"] = len(missing)
            if missing:
                warnings.append(f"{len(missing)} {split.name} image(s) have no features in {store.directory}, "
                                f"e.g. {missing[:5]}: their questions cannot be used")
    if report["answer_vocabulary"]["train_coverage"]["answerable"] < 80:
        warnings.append("fewer than 80% of training questions have an answer in the vocabulary: "
                        "are these VQA annotations?")
    report["warnings"] = warnings
    return report
