"""A component's exported functions seen from wasmtime-py: found once per loaded component (by
name, from the component's own type), called under an instance's caps, their WIT `result`s
unwrapped. The one place that knows how wasmtime-py presents them.

    classify = Export(runtime, "classify", CLASSIFIER)     # a function of an exported interface
    run = Export(runtime, "run")                           # a function of the world itself
    ok, payload = classify.call(store, instance, image, 5, cpu_seconds=30)

wasmtime-py returns a `result<T, E>` as the bare ok or error value when T and E have distinct
Python types (a list vs the `error` variant, bytes vs str), and as a Variant tagged "ok"/"err"
when they do not; `unwrap` handles both, from the function's type.
"""

import wasmtime.component as wc

from host.runtime import call

# The classifier's typed interface (wit/classifier.wit), at whatever version the component has.
CLASSIFIER = "imgcls:classifier/classify"


def exported_interface(runtime, name):
    """The full name (`name@version`) under which the component exports interface `name`."""
    exports = runtime.component.type.exports(runtime.engine)
    found = [full for full in exports if full == name or full.startswith(name + "@")]
    if len(found) != 1:
        raise LookupError(f"{runtime.path} exports no interface {name} (it exports {', '.join(exports)})")
    return found[0]


def _classes(valtype):
    """The Python types wasmtime-py uses for values of `valtype`."""
    classes = set()
    if valtype is not None:
        valtype.add_classes(classes)
    return classes


class Export:
    """One exported function that returns a WIT `result`."""

    def __init__(self, runtime, name, interface=None):
        component, engine = runtime.component, runtime.engine
        items, parent = component.type.exports(engine), None
        if interface is not None:
            interface = exported_interface(runtime, interface)
            parent = component.get_export_index(interface)
            items = items[interface].ty.exports(engine)
        if name not in items:
            raise LookupError(f"{runtime.path} exports no function {name}{f' in {interface}' if interface else ''}")
        result = items[name].ty.result
        if not isinstance(result, wc.ResultType):
            raise TypeError(f"{name} does not return a result")
        self.name = f"{interface}#{name}" if interface else name
        self.index = component.get_export_index(name, parent)
        ok, err = _classes(result.ok), _classes(result.err)
        self._tagged = bool(ok & err)
        self._err = tuple(err)
        # The cases of the error type when it is a variant (e.g. the classifier's `error`).
        self.error_cases = [case for case, _ in result.err.cases] if isinstance(result.err, wc.VariantType) else []

    def call(self, store, instance, *args, cpu_seconds):
        """(ok, payload) of a call in `instance`, with a fresh CPU deadline (host.runtime.call)."""
        return self.unwrap(call(store, instance.get_func(store, self.index), *args, cpu_seconds=cpu_seconds))

    def unwrap(self, result):
        """(True, ok value) or (False, error value) of what wasmtime-py returned."""
        if self._tagged:
            return result.tag == "ok", result.payload
        return not isinstance(result, self._err), result


def describe(error):
    """'case: message' of an error value of a variant type, else its text."""
    if isinstance(error, wc.Variant):
        return f"{error.tag}: {error.payload}"
    return str(error)
