"""The one exception the engine lets out."""


class ModelError(ValueError):
    """The model cannot be loaded or run: malformed file, unsupported operator, bad input."""
