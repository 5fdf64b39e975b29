"""Model builders: pretrained EfficientNet-Lite0 (from a PyPI wheel), seeded MobileNetV2s,
the ImageNet label list. The modules also run as scripts (`python models/NAME.py`)."""
