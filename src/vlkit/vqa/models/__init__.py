"""VQA models, one file each; importing this package registers every model in `MODELS`."""

from vlkit.vqa.models import (  # noqa: F401,E402
    bow,
    cnn_lstm_att,
    concat_mean,
    lstm_qatt,
    lstm_spatial,
    mcan,
    qguided_att,
    saaa,
)
from vlkit.vqa.models.registry import MODELS

__all__ = ["MODELS"]
