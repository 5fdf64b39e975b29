"""Classifies one image through /v2 with KServe's stock REST client (InferenceRESTClient,
protocol v2), the image as binary tensor data and as base64 in JSON; prints one JSON line per
way: {"binary", "output", "shape", "probabilities"}. Runs in build/kserve-venv:
    build/kserve-venv/bin/python tests/kserve/classify.py BASE_URL MODEL_NAME IMAGE"""

import asyncio
import base64
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def classify(base, model, image):
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=120))
    for binary in (True, False):
        tensor = InferInput("image", [1], "BYTES")
        element = image if binary else base64.b64encode(image).decode()
        tensor.set_data_from_numpy(np.array([element], dtype=np.object_), binary_data=binary)
        request = InferRequest(model_name=model, infer_inputs=[tensor], request_id=f"kserve-{binary}")
        answer = await client.infer(base, request, model_name=model)
        output = answer.outputs[0]
        print(
            json.dumps(
                {
                    "binary": binary,
                    "output": output.name,
                    "shape": list(output.as_numpy().shape),
                    "probabilities": output.as_numpy()[0].tolist(),
                }
            )
        )


if __name__ == "__main__":
    base, model, path = sys.argv[1:]
    with open(path, "rb") as f:
        asyncio.run(classify(base, model, f.read()))
