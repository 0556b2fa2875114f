"""The web demo (`vlkit demo RUN [RUN ...]`): trained runs of every task behind one Gradio page."""
