"""Text: question tokenisers, word vocabularies, GloVe word vectors."""
