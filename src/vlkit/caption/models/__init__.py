"""Captioning models, one file each; importing this package registers every model in `MODELS`."""

from vlkit.caption.models import adaptive, show_attend_tell, show_tell  # noqa: F401  (registers the models)
from vlkit.caption.models.registry import MODELS

__all__ = ["MODELS"]
