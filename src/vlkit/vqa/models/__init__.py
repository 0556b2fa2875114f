"""VQA models; importing this package registers every model with `vlkit.registry`."""

from vlkit.vqa.models import cnn_lstm_att, mcan, qguided_att, saaa  # noqa: F401
