"""VQA models; importing this package registers every model with `vlkit.registry`."""

from vlkit.vqa.models import bow, cnn_lstm_att, concat_mean, lstm_qatt, lstm_spatial, mcan, qguided_att, saaa  # noqa: F401
