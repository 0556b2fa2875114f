"""Visual question answering: data, metric, models, training, evaluation and prediction."""
