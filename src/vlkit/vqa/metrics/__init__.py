"""VQA metrics: official answer normalisation, the official accuracy (current and legacy rules),
single-answer accuracy, and scoring a results file."""
