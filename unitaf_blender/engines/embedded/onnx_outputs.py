"""Expose an internal tensor of an ONNX model as an extra graph output, in memory.

hibari's model computes per-phoneme durations but only returns the vocoder parameters. The
durations are the data input of the graph's one `CumSum` node (the length regulator turns
them into frame positions), so we find that node by op type, not by a node name that
belongs to one export, and append its input to the graph's outputs.

No `onnx` package (31 MB installed) is needed: a model file is a protobuf message, and
protobuf merges a repeated embedded message field, so appending
`ModelProto.graph { output { name } }` to the file's bytes adds one output and changes nothing
else. onnxruntime loads the edited bytes directly; the file on disk is never modified.
"""
from ...core.protobuf_wire import LENGTH, WireError, fields, length_field

_MODEL_GRAPH = 7       # ModelProto.graph
_GRAPH_NODE = 1        # GraphProto.node
_GRAPH_OUTPUT = 12     # GraphProto.output
_NODE_INPUT = 1        # NodeProto.input (repeated string)
_NODE_OP_TYPE = 4      # NodeProto.op_type
_VALUE_INFO_NAME = 1   # ValueInfoProto.name


class OnnxEditError(ValueError):
    """The model does not have the structure the edit expects."""


def _messages(buf, number):
    return (value for field, wire, value in fields(buf) if field == number and wire == LENGTH)


def node_inputs(model: bytes, op_type: str) -> list:
    """The input names of every node of `op_type` in the model's main graph, in graph order."""
    found = []
    try:
        for graph in _messages(memoryview(model), _MODEL_GRAPH):
            for node in _messages(graph, _GRAPH_NODE):
                inputs, op = [], None
                for field, wire, value in fields(node):
                    if field == _NODE_INPUT and wire == LENGTH:
                        inputs.append(bytes(value).decode("utf-8"))
                    elif field == _NODE_OP_TYPE and wire == LENGTH:
                        op = bytes(value).decode("utf-8")
                if op == op_type:
                    found.append(inputs)
    except (WireError, UnicodeDecodeError) as exc:
        raise OnnxEditError(f"not an ONNX model ({exc})") from exc
    return found


def with_output(model: bytes, tensor_name: str) -> bytes:
    """The model with `tensor_name` added as its last graph output (type left to inference)."""
    value_info = length_field(_VALUE_INFO_NAME, tensor_name.encode("utf-8"))
    return bytes(model) + length_field(_MODEL_GRAPH, length_field(_GRAPH_OUTPUT, value_info))


def with_duration_output(model: bytes) -> tuple:
    """(edited model bytes, output name) exposing the durations fed to the one CumSum node."""
    cumsums = node_inputs(model, "CumSum")
    if len(cumsums) != 1 or not cumsums[0]:
        raise OnnxEditError(f"expected one CumSum node (the length regulator), found {len(cumsums)}")
    name = cumsums[0][0]
    return with_output(model, name), name
