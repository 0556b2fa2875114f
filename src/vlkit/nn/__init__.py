"""Layers shared by the models of several tasks: LSTMs over padded questions, masked pooling."""
