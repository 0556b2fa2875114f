"""VQA data: easy-VQA and official VQA v1/v2 (+ Visual Genome) readers, data modules, answer lists, data checks.

The readers import no training framework, so `vlkit vqa score` and `vlkit vqa check` start fast; the
data modules register themselves in `registry.DATASETS` when imported (`vlkit.vqa.task` does).
"""
