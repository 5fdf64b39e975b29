"""Inference with a loaded model bundle: encoded images -> probabilities -> ranked classes, one
image or a batch of them (score_batch, classify_batch) in one forward pass.

Which bundle an instance serves is instance.py's; how many images a request may carry is the
API's (limits.py).
"""

import time

import numpy as np

import engine
import errors
import preprocess
import settings
from errors import BadRequest, ModelUnavailable
from model_bundle import Bundle


def softmax(logits):
    """(N, classes) -> probabilities, per row."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def sigmoid(logits):
    return 0.5 * (1 + np.tanh(0.5 * logits))  # no overflow warning for large negative logits


class Classifier:
    def __init__(self, model_path, source="file"):
        self.bundle = Bundle(model_path, source)
        self.model, self.name, self.num_classes = self.bundle.model, self.bundle.name, self.bundle.num_classes

    def score_batch(self, images, function="softmax"):
        """Encoded images -> (for each, its probabilities (classes,) float64 or the failure that
        stopped it (errors.policy's 4xx: not an image, too large...), timings in ms).
        function: "softmax" (probabilities), "sigmoid" or "none" of the model's outputs.

        The decodable images run as one forward pass of batch N when the model's batch dimension
        is symbolic, else in passes of its fixed batch (the last one padded)."""
        t0 = time.perf_counter()
        inputs = [self._input(data) for data in images]
        tensors = [x for x in inputs if not isinstance(x, Exception)]
        t1 = time.perf_counter()
        scores = iter(self.probabilities(np.concatenate(tensors), function) if tensors else ())
        t2 = time.perf_counter()
        results = [x if isinstance(x, Exception) else next(scores) for x in inputs]
        return results, {"preprocess": (t1 - t0) * 1000, "inference": (t2 - t1) * 1000}

    def _input(self, data):
        """One image's input tensor (1, 3, S, S), or the client-side failure that stops it."""
        try:
            return preprocess.preprocess(data, self.bundle.prep, settings.get().max_pixels)
        except Exception as e:
            if errors.policy(e).status >= 500:  # out of memory, a bug: the whole request fails
                raise
            return e

    def probabilities(self, x, function="softmax"):
        """(N, 3, S, S) float32 -> (N, classes) float64 probabilities (or `function` of the outputs)."""
        step = self.model.input_shape[0] or len(x)  # a fixed batch, or all at once
        logits = []
        for start in range(0, len(x), step):
            chunk = x[start : start + step]
            if len(chunk) < step:
                chunk = np.concatenate([chunk, np.zeros((step - len(chunk), *chunk.shape[1:]), np.float32)])
            try:
                logits.append(self.model.run(chunk)[: len(x) - start])
            except engine.ModelError as e:  # a graph inconsistent only at run time (symbolic dims)
                raise ModelUnavailable(f"model {self.bundle.path}: {e}") from None
        logits = np.concatenate(logits).astype(np.float64)
        if function == "sigmoid":
            return sigmoid(logits)
        return logits if self.bundle.outputs_probabilities or function == "none" else softmax(logits)

    def rank(self, scores, top_k):
        """Probabilities (classes,) -> the top_k predictions, best first."""
        ranked = np.argsort(-scores, kind="stable")[:top_k]
        return [{"index": int(i), "label": self.bundle.labels[i], "score": float(scores[i])} for i in ranked]

    def classify_batch(self, images, top_k):
        """Encoded images -> (for each, its top_k predictions or its failure, timings in ms);
        top_k >= 1, and more than the model has classes gives them all."""
        if top_k < 1:
            raise BadRequest(f"top_k must be a positive integer, got {top_k}")
        results, timings = self.score_batch(images)
        top_k = min(top_k, self.num_classes)
        return [r if isinstance(r, Exception) else self.rank(r, top_k) for r in results], timings

    def classify(self, data, top_k):
        """One encoded image -> (its top_k predictions, timings in ms)."""
        [result], timings = self.classify_batch([data], top_k)
        if isinstance(result, Exception):
            raise result
        return result, timings

    def info(self):
        return self.bundle.info()
