"""Image captioning: COCO / Flickr Karpathy splits, caption models, decoding and the coco-caption metrics."""
