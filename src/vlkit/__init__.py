"""vlkit: one toolkit for visual question answering, image captioning and video QA."""

__version__ = "0.2.0"
