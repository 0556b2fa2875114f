"""Video QA models, one file each; importing this package registers every model in `MODELS`."""

from vlkit.videoqa.models import dualvgr, msvqa, question_only  # noqa: F401  (registers the models)
from vlkit.videoqa.models.registry import MODELS

__all__ = ["MODELS"]
