"""Vision: image decoding, the small end-to-end CNN, the feature adapter for image datasets, attention figures."""
