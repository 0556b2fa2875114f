"""Each VQA v2 paper recipe prepares its data exactly as its reference repository does.

On generated official-format files, the question vocabulary, answer list, training targets and the
training questions that vlkit builds from `configs/vqa/mcan_small_vqa2.yaml` and `saaa_vqa2.yaml`
equal what a transcription of the reference's preprocessing (below, written from the reference
code: mcan-vqa `core/data/load_data.py` + `data_utils.py`; pytorch-vqa `preprocess-vocab.py` +
`data.py`) gives on the same files. Answers are generated already normalised, so that the
answer-normalisation rules (tested in test_answer_lists.py) are the identity here.
"""

import itertools
import json
import re
from collections import Counter

import numpy as np
import pytest

from conftest import REPO, vqa_config
from vlkit.core.errors import VlkitError
from vlkit.features.store import StoreWriter
from vlkit.synth.vqa_official_files import SynthQuestion, write_vqa_part
from vlkit.vqa.task import VQATask

WORDS = ["what", "color", "is", "the", "ball", "how", "many", "dogs", "are", "there", "cat", "left", "of", "a"]
COMMON = ["red", "blue", "yes", "no", "2", "green"]


def question_text(rng: np.random.Generator, words: list[str]) -> str:
    picked = rng.choice(words, size=int(rng.integers(3, 9)))
    return " ".join(picked).capitalize() + "?"


def write_files(root, parts: dict[str, list[SynthQuestion]]) -> None:
    """Official files of every part and a feature store with a row for every image."""
    for part, items in parts.items():
        write_vqa_part(root, part, items)
    image_ids = sorted({q.image_id for items in parts.values() for q in items})
    writer = StoreWriter(root / "store", image_ids, k_max=2, dim=4, kind="grid",
                         manifest={"source": "test", "model": "synthetic"})
    writer.write(image_ids, np.zeros((len(image_ids), 2, 4), np.float32), [2] * len(image_ids))
    writer.finish()


def prepared(root, recipe: str, *overrides: str):
    config = vqa_config(f"data.root={root}", f"data.features={root}/store", "data.num_workers=0",
                        *overrides, config_file=REPO / "configs/vqa" / recipe)
    datamodule = VQATask().build_datamodule(config)
    datamodule.setup("fit")
    return datamodule


def dense_targets(encoded, num_answers: int) -> np.ndarray:
    targets = np.zeros((len(encoded), num_answers), np.float32)
    for row in range(len(encoded)):
        start, end = encoded.target_offsets[row], encoded.target_offsets[row + 1]
        targets[row, encoded.target_answers[start:end]] = encoded.target_scores[start:end]
    return targets


# --- mcan-vqa, transcribed ---------------------------------------------------------------------------------------

def mcan_tokens(question: str) -> list[str]:
    return re.sub(r"([.,'!?\"()*#:;])", "", question.lower()).replace("-", " ").replace("/", " ").split()


def mcan_token_to_ix(question_files: list[list[str]]) -> dict[str, int]:
    token_to_ix = {"PAD": 0, "UNK": 1}
    for question in itertools.chain.from_iterable(question_files):
        for word in mcan_tokens(question):
            if word not in token_to_ix:
                token_to_ix[word] = len(token_to_ix)
    return token_to_ix


def mcan_answer_list(annotations: list[SynthQuestion]) -> list[str]:
    frequency = {}
    for item in annotations:
        majority = max(set(item.answers), key=item.answers.count)
        frequency[majority] = frequency.get(majority, 0) + 1
    return [answer for answer, count in frequency.items() if count > 8]


def mcan_score(occurrences: int) -> float:
    return {0: 0.0, 1: 0.3, 2: 0.6, 3: 0.9}.get(occurrences, 1.0)


@pytest.fixture(scope="module")
def mcan_files(tmp_path_factory):
    """train / val / test2015 / VG parts; some answers pass mcan-vqa's count > 8 only with val counted, VG's
    own answer never does, and test2015 and VG bring words train lacks."""
    root = tmp_path_factory.mktemp("mcan")
    rng = np.random.default_rng(5)
    qid = iter(range(1, 10_000))

    def items(count: int, image_base: int, majorities: list[str], words: list[str]) -> list[SynthQuestion]:
        made = []
        for i in range(count):
            majority = majorities[i % len(majorities)]
            answers = (majority,) * 6 + tuple(str(a) for a in rng.choice(COMMON, size=4))
            made.append(SynthQuestion(next(qid), image_base + i // 3, question_text(rng, words), "what", "other",
                                      answers))
        return made

    parts = {
        "train": items(60, 1, ["red", "blue", "yes", "no", "2", "green"], WORDS[:10]),  # 10 of each
        "val": items(12, 500, ["green", "blue dog"], WORDS[:12]),  # "blue dog": 6 in val only
        "test": [SynthQuestion(next(qid), 900 + i, question_text(rng, WORDS + ["zebra"]), "", "", ())
                 for i in range(6)],
        "vg": items(20, 700, ["purple"], WORDS + ["giraffe"]),  # 20 x "purple": only in VG
    }
    parts["train"] += items(4, 300, ["blue dog"], WORDS[:10])  # "blue dog": 4 in train + 6 in val > 8
    write_files(root, parts)
    return root, parts


@pytest.mark.parametrize("recipe", ["mcan_small_vqa2.yaml", "mcan_large_vqa2.yaml"])
def test_mcan_recipe_vocabulary_answers_targets_and_questions_equal_mcan_vqas(mcan_files, recipe):
    root, parts = mcan_files
    datamodule = prepared(root, recipe, "model.glove=none")
    token_to_ix = mcan_token_to_ix([[q.question for q in parts[p]] for p in ("train", "val", "test", "vg")])
    assert datamodule.vocab.itos[2:] == list(token_to_ix)[2:]
    assert {"zebra", "giraffe"} <= set(datamodule.vocab.itos)  # test2015 and VG words are not UNK

    expected_answers = mcan_answer_list(parts["train"] + parts["val"])
    assert "blue dog" in expected_answers and "purple" not in expected_answers
    assert datamodule.answers == expected_answers

    trained = parts["train"] + parts["val"] + parts["vg"]  # the recipe's train+val+vg, every question kept
    encoded = datamodule.splits["train"]
    assert sorted(encoded.question_ids.tolist()) == sorted(q.question_id for q in trained)
    by_id = {q.question_id: q for q in trained}
    ans_to_ix = {a: i for i, a in enumerate(expected_answers)}
    expected = np.zeros((len(encoded), len(expected_answers)), np.float32)
    for row, question_id in enumerate(encoded.question_ids.tolist()):
        for answer, occurrences in Counter(by_id[question_id].answers).items():
            if answer in ans_to_ix:
                expected[row, ans_to_ix[answer]] = mcan_score(occurrences)
        tokens = [token_to_ix.get(w, 1) for w in mcan_tokens(by_id[question_id].question)][:14]
        assert encoded.tokens[row].tolist() == tokens + [0] * (14 - len(tokens))
    np.testing.assert_allclose(dense_targets(encoded, len(expected_answers)), expected, rtol=0, atol=1e-7)


def test_mcan_recipe_reads_mcan_vqas_own_answer_dict(mcan_files, tmp_path):
    root, _ = mcan_files
    answers = ["no", "yes", "red"]
    path = tmp_path / "answer_dict.json"
    path.write_text(json.dumps([{a: i for i, a in enumerate(answers)}, {str(i): a for i, a in enumerate(answers)}]))
    assert prepared(root, "mcan_small_vqa2.yaml", "model.glove=none", f"data.answers={path}").answers == answers


def test_mcan_recipe_without_glove_stops_with_one_line_naming_the_file(mcan_files):
    root, _ = mcan_files
    with pytest.raises(VlkitError, match=r"pass model.glove=PATH/glove.840B.300d.txt \(or model.glove=none"):
        VQATask().training_departures(vqa_config(config_file=REPO / "configs/vqa/mcan_small_vqa2.yaml"))
    config = vqa_config("model.glove=none", config_file=REPO / "configs/vqa/mcan_small_vqa2.yaml")
    assert VQATask().training_departures(config) == [
        "model.glove=none: the word embeddings start random, not from GloVe as the reference's do"]


# --- pytorch-vqa, transcribed ------------------------------------------------------------------------------------

def extract_vocab(token_lists, top_k=None, start=0) -> dict[str, int]:
    counter = Counter(itertools.chain.from_iterable(token_lists))
    kept = [t for t, _ in counter.most_common(top_k)] if top_k else list(counter)
    return {t: i for i, t in enumerate(sorted(kept, key=lambda t: (counter[t], t), reverse=True), start=start)}


@pytest.fixture(scope="module")
def saaa_files(tmp_path_factory):
    """More than 3,000 distinct human answers, so that pytorch-vqa's top 3,000 leaves some training questions
    without any listed answer; questions of different lengths, one longer than the old 23-token cut."""
    root = tmp_path_factory.mktemp("saaa")
    rng = np.random.default_rng(6)
    train, qid = [], 1
    for i in range(80):  # common answers
        answers = tuple(str(a) for a in rng.choice(COMMON, size=10))
        train.append(SynthQuestion(qid, 1 + i, question_text(rng, WORDS), "what", "other", answers))
        qid += 1
    for i in range(310):  # ten answers of their own each: 3,100 answers seen once
        answers = tuple(f"thing{i}x{j}" for j in range(10))
        train.append(SynthQuestion(qid, 100 + i, question_text(rng, WORDS), "what", "other", answers))
        qid += 1
    long_question = " ".join(["what"] + ["big"] * 30 + ["ball"]) + "?"
    train.append(SynthQuestion(qid, 999, long_question, "what", "other", ("red",) * 10))
    val = [SynthQuestion(5000 + i, 2000 + i, question_text(rng, WORDS), "what", "other", ("red",) * 10)
           for i in range(4)]
    write_files(root, {"train": train, "val": val})
    return root, train


def test_saaa_recipe_vocabulary_answers_targets_and_questions_equal_pytorch_vqas(saaa_files):
    root, train = saaa_files
    datamodule = prepared(root, "saaa_vqa2.yaml")
    questions = [q.question.lower()[:-1].split(" ") for q in train]
    token_to_index = extract_vocab(questions, start=1)
    answer_to_index = extract_vocab([q.answers for q in train], top_k=3000)
    assert datamodule.vocab.itos[2:] == list(token_to_index)  # reference index i is vlkit's i + 1
    assert datamodule.answers == list(answer_to_index)

    answerable = [q for q in train if any(a in answer_to_index for a in q.answers)]
    assert 0 < len(train) - len(answerable) < 310  # the filter drops some questions, not all of the rare ones
    encoded = datamodule.splits["train"]
    assert encoded.question_ids.tolist() == [q.question_id for q in answerable]
    longest = max(len(tokens) for tokens in questions)
    assert longest == 32 and encoded.tokens.shape == (len(answerable), longest)  # padded, never cut
    counts = np.zeros((len(answerable), len(answer_to_index)), np.float32)
    for row, question in enumerate(answerable):
        tokens = [token_to_index[t] + 1 for t in question.question.lower()[:-1].split(" ")]
        assert encoded.tokens[row].tolist() == tokens + [0] * (longest - len(tokens))
        for answer in question.answers:
            if answer in answer_to_index:
                counts[row, answer_to_index[answer]] += 1
    # pytorch-vqa weighs its answer counts by 0.1 in the loss: the targets are the share of humans
    np.testing.assert_allclose(dense_targets(encoded, len(answer_to_index)), counts * 0.1, rtol=0, atol=1e-7)
