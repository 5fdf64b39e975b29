"""The OpenAPI 3.1 document of the HTTP API (GET /openapi.json), for API tooling: schemathesis,
client generators, gateways.

api.py calls document(ROUTES) once, at import time, which componentize-py runs at build time:
the encoded JSON is in the snapshot and no request builds it. Each route of the table must have
its entry in OPERATIONS (a route without one fails the build), and HEAD and OPTIONS are added
wherever api.py answers them. Bodies and answers follow the handlers' docstrings (api.py,
predict.py, hf.py, oip.py, oip_codec.py), errors included ({"error"} with the statuses of
api.py's docstring); a 500 is a bug, so none is documented.
"""

import json

REF = "#/components/schemas/"
IMAGE = {
    "type": "string",
    "contentMediaType": "image/*",
    "description": "an encoded image (JPEG, PNG, GIF, BMP, TIFF...)",
}
IMAGE_BODIES = {"image/*": {"schema": IMAGE}, "application/octet-stream": {"schema": IMAGE}}
REQUEST_ID = {
    "x-request-id": {
        "description": "the client's own x-request-id if short printable ASCII, else a fresh one",
        "schema": {"type": "string"},
    }
}
ERRORS = {
    400: "a malformed request, or an image that does not decode",
    404: "no such model or version",
    408: "the body was not received in time (the BODY_SECONDS setting)",
    413: "the body is over the MAX_BODY_BYTES setting",
    415: "a known image format this build cannot decode, or a compressed body",
    422: "the image declares more pixels than the MAX_PIXELS setting",
    503: "the model is unavailable, a setting does not parse, or the instance ran out of memory",
}
BODY_ERRORS = (400, 408, 413, 415, 422, 503)  # what a request with an image can meet
TOP_K = {
    "name": "top_k",
    "in": "query",
    "required": False,
    "description": "predictions per image (DEFAULT_TOP_K)",
    "schema": {"type": "integer", "minimum": 1},
}
MODEL_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "the model's name, as GET /model says",
    "schema": {"type": "string"},
    "example": "efficientnet-lite0",
}
VERSION = {
    "name": "version",
    "in": "path",
    "required": True,
    "description": "the model's only version is 1",
    "schema": {"type": "string"},
    "example": "1",
}
OBJECT = {"type": "object"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Prediction": {
        "type": "object",
        "required": ["index", "label", "score"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "label": {"type": "string"},
            "score": {"type": "number"},
        },
    },
    "Predictions": {"type": "array", "items": {"$ref": REF + "Prediction"}},
    "Timings": {"type": "object", "additionalProperties": {"type": "number"}},
    "PredictAnswer": {
        "type": "object",
        "required": ["model", "timings_ms"],
        "properties": {
            "model": {"type": "string"},
            "predictions": {"$ref": REF + "Predictions"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["filename"],
                    "properties": {
                        "filename": {"type": "string"},
                        "predictions": {"$ref": REF + "Predictions"},
                        "error": {"type": "string"},
                        "status": {"type": "integer"},
                    },
                },
            },
            "timings_ms": {"$ref": REF + "Timings"},
        },
    },
    "HfRequest": {
        "type": "object",
        "required": ["inputs"],
        "additionalProperties": False,
        "properties": {
            "inputs": {
                "type": "string",
                "contentEncoding": "base64",
                "description": "the image in base64, or a data: URL (data:image/jpeg;base64,...)",
            },
            "parameters": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {
                    "top_k": {"type": ["integer", "null"], "minimum": 1},
                    "function_to_apply": {"enum": ["softmax", "sigmoid", "none", None]},
                },
            },
        },
    },
    "HfAnswer": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["label", "score"],
            "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
        },
    },
    "Model": {
        "type": "object",
        "required": ["name", "source", "sha256", "input_size", "num_classes"],
        "properties": {
            "name": {"type": "string"},
            "source": {"enum": ["embedded", "file"]},
            "path": {"type": ["string", "null"]},
            "sha256": {"type": "string"},
            "input_size": {"type": "integer"},
            "num_classes": {"type": "integer"},
            "parameters": {"type": "integer"},
            "op_counts": OBJECT,
            "preprocessing": OBJECT,
            "load_ms": {"type": "number"},
        },
    },
    "Tensor": {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "parameters": OBJECT,
            "data": {"type": "array"},
        },
    },
    "InferRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
            "inputs": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "datatype", "shape"],
                    "properties": {
                        "name": {"const": "image"},
                        "datatype": {"const": "BYTES"},
                        "shape": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1,
                            "items": {"type": "integer", "minimum": 1},
                        },
                        "parameters": {
                            "type": "object",
                            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
                        },
                        "data": {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}},
                    },
                },
            },
            "outputs": {
                "type": "array",
                "maxItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"const": "probabilities"},
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "classification": {"type": "integer", "minimum": 0},
                                "binary_data": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
    },
    "InferAnswer": {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": {"$ref": REF + "Tensor"}},
        },
    },
}


def json_of(name):
    """The content map of a JSON body of the named schema."""
    return {"application/json": {"schema": {"$ref": REF + name}}}


def answer(description, content=None):
    return {"description": description, "headers": REQUEST_ID, **({"content": content} if content else {})}


def operation(summary, ok, errors=(), body=None, parameters=()):
    """An operation: its 200 (`ok`: a schema name, or a content map), its error statuses."""
    op = {
        "summary": summary,
        "responses": {
            "200": answer("OK", json_of(ok) if isinstance(ok, str) else ok),
            **{str(s): answer(ERRORS[s], json_of("Error")) for s in errors},
        },
    }
    if body:
        op["requestBody"] = {"required": True, "content": body}
    if parameters:
        op["parameters"] = list(parameters)
    return op


INFER_BINARY = {
    "type": "string",
    "description": "the JSON head, then the binary tensor data; its length in the "
    "Inference-Header-Content-Length header",
}
MODEL_ROUTE = dict(errors=(404, 503))
OPERATIONS = {
    "/": {
        "GET": operation(
            "a page to pick or drop images on and see the predictions", {"text/html": {"schema": {"type": "string"}}}
        ),
        "POST": operation(
            "Hugging Face Inference API image classification: the raw image, or JSON with base64",
            "HfAnswer",
            BODY_ERRORS,
            {**IMAGE_BODIES, **json_of("HfRequest")},
        ),
    },
    "/healthz": {
        "GET": operation(
            "liveness, without loading the model",
            {
                "application/json": {
                    "schema": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
                }
            },
        )
    },
    "/model": {"GET": operation("the model this instance serves", "Model", (503,))},
    "/predict": {
        "POST": operation(
            "classifies the image of the body, or the files of a form (several files: one batch)",
            "PredictAnswer",
            BODY_ERRORS,
            {
                **IMAGE_BODIES,
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": {"type": "string", "contentMediaType": "image/*"},
                            "top_k": {"type": "integer", "minimum": 1},
                        },
                    }
                },
            },
            [TOP_K],
        )
    },
    "/v2": {
        "GET": operation(
            "Open Inference Protocol server metadata",
            {"application/json": {"schema": {"type": "object", "required": ["name", "version", "extensions"]}}},
        )
    },
    "/v2/health/live": {
        "GET": operation(
            "live",
            {
                "application/json": {
                    "schema": {"type": "object", "required": ["live"], "properties": {"live": {"const": True}}}
                }
            },
        )
    },
    "/v2/health/ready": {
        "GET": operation(
            "ready: the model loads",
            {
                "application/json": {
                    "schema": {"type": "object", "required": ["ready"], "properties": {"ready": {"const": True}}}
                }
            },
            (503,),
        )
    },
    "/v2/models/{name}": {
        "GET": operation(
            "model metadata",
            {
                "application/json": {
                    "schema": {"type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"]}
                }
            },
            **MODEL_ROUTE,
        )
    },
    "/v2/models/{name}/ready": {
        "GET": operation(
            "model readiness",
            {"application/json": {"schema": {"type": "object", "required": ["name", "ready"]}}},
            **MODEL_ROUTE,
        )
    },
    "/v2/models/{name}/infer": {
        "POST": operation(
            "the probabilities (or top classes) of N encoded images",
            {**json_of("InferAnswer"), "application/octet-stream": {"schema": INFER_BINARY}},
            (400, 404, 408, 413, 415, 422, 503),
            {**json_of("InferRequest"), "application/octet-stream": {"schema": INFER_BINARY}},
        )
    },
}
for _path in ("/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer"):  # the versioned twins
    OPERATIONS[_path.replace("{name}", "{name}/versions/{version}")] = OPERATIONS[_path]
OPERATIONS["/openapi.json"] = {"GET": operation("this document", {"application/json": {"schema": OBJECT}})}


def path_item(path, methods):
    """The operations api.py answers on `path`: its methods, HEAD where GET is, OPTIONS."""
    if set(methods) - set(OPERATIONS.get(path, {})):
        raise KeyError(f"openapi.py has no description of {sorted(methods)} {path}")
    item = {m.lower(): OPERATIONS[path][m] for m in methods}
    if "GET" in methods:
        head = {k: v for k, v in item["get"].items() if k != "responses"}
        head["responses"] = {
            s: {k: v for k, v in r.items() if k != "content"} for s, r in item["get"]["responses"].items()
        }
        item["head"] = {**head, "summary": "as GET, without the body"}
    allow = ", ".join([*methods, *(["HEAD"] if "GET" in methods else []), "OPTIONS"])
    item["options"] = {
        "summary": f"the methods of the route ({allow}), or a CORS preflight",
        "responses": {
            "204": {
                "description": "no content",
                "headers": {**REQUEST_ID, "allow": {"schema": {"type": "string", "const": allow}}},
            }
        },
    }
    parameters = [p for p in (MODEL_NAME, VERSION) if "{" + p["name"] + "}" in path]
    if parameters:
        item["parameters"] = parameters
    return item


def document(routes):
    """The routes of api.py's table -> the OpenAPI document, encoded as JSON."""
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "image classifier",
                "version": "0.2.0",
                "description": "An image classifier in one WebAssembly component: its own API, Hugging Face's "
                "Inference API (POST /) and the Open Inference Protocol v2 (/v2).",
            },
            "paths": {path: path_item(path, methods) for path, methods in routes.items()},
            "components": {"schemas": SCHEMAS},
        }
    ).encode()
