"""Einsum (numpy's; vision transformers write attention and relative-position terms with it,
e.g. 'bhid,bhjd->bhij'). The output shape is worked out from the equation at plan time."""

import numpy as np

from .registry import broadcast, fail, lowering


def einsum(*xs, equation):
    return np.einsum(equation, *xs, optimize=len(xs) > 1)


def output_shape(node, equation, shapes):
    """The shape `equation` makes of operands of `shapes` (dims may be None); ModelError if
    the terms and the operands' ranks disagree."""
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise fail(node, f"equation '{equation}' has {len(terms)} operands, the node {len(shapes)}")
    sizes, ellipsis = {}, ()
    for term, shape in zip(terms, shapes):
        before, dots, after = term.partition("...")
        extra = len(shape) - len(before) - len(after)
        if extra < 0 or (extra and not dots) or not (before + after).isalpha():
            raise fail(node, f"term '{term}' of '{equation}' does not fit an operand of shape {shape}")
        ellipsis = broadcast(node, ellipsis, shape[len(before) : len(before) + extra])
        for letter, dim in zip(before + after, shape[: len(before)] + shape[len(shape) - len(after) :]):
            sizes[letter] = broadcast(node, (sizes.get(letter, 1),), (dim,))[0]
    if not arrow:  # implicit output: the ellipsis, then the letters used once, sorted
        letters = inputs.replace("...", "").replace(",", "")
        output = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    before, dots, after = output.partition("...")
    if any(c not in sizes for c in before + after):
        raise fail(node, f"output '{output}' of '{equation}' has letters no operand has")
    return tuple(sizes[c] for c in before) + (ellipsis if dots else ()) + tuple(sizes[c] for c in after)


@lowering("Einsum")
def lower_einsum(p, node):
    """Any equation numpy takes: explicit or implicit output, '...' broadcast."""
    xs = [p.plain(p.input(node, i)) for i in range(len(node.inputs))]
    equation = node.attrs.get("equation", "")
    return p.emit(einsum, xs, output_shape(node, equation, [x.shape for x in xs]), equation=equation)
