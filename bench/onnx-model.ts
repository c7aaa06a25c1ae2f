/**
 * A one-node ONNX model (Gemm with transA / transB attributes, optionally + Relu) written as protobuf bytes by
 * hand, so the benchmark can time onnxruntime-web's matrix product without shipping model
 * files or a protobuf library. Only the fields ONNX needs for this graph are encoded:
 * ModelProto{ir_version=1, opset_import=8, graph=7}; GraphProto{node=1, name=2, input=11,
 * output=12}; NodeProto{input=1, output=2, op_type=4, attribute=5};
 * AttributeProto{name=1, i=3, type=20 (INT=2)}; ValueInfoProto{name=1, type=2};
 * TypeProto{tensor_type=1}; TypeProto.Tensor{elem_type=1 (FLOAT=1), shape=2};
 * TensorShapeProto{dim=1}; Dimension{dim_value=1}.
 */
const enc = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number) => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: number[] | Uint8Array) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, enc.encode(s));

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d)));
  const tensor = [...int(1, 1), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensor))];
}

/**
 * Y[m, n] = A' @ B' where A is [k, m] if transA else [m, k], and B is [n, k] if transB else
 * [k, n]; with `fused`, Y = Relu(A' @ B' + C) for an input C of n values (ORT's optimiser
 * fuses Gemm + Relu on its CPU EP).
 */
export function gemmModel(m: number, k: number, n: number, transA: boolean, transB: boolean, fused = false): Uint8Array {
  const attr = (name: string, v: number) => bytes(5, [...str(1, name), ...int(3, v), ...int(20, 2)]);
  const gemmOut = fused ? 'G' : 'Y';
  const node = [...str(1, 'A'), ...str(1, 'B'), ...(fused ? str(1, 'C') : []), ...str(2, gemmOut), ...str(4, 'Gemm'), ...attr('transA', transA ? 1 : 0), ...attr('transB', transB ? 1 : 0)];
  const relu = [...str(1, 'G'), ...str(2, 'Y'), ...str(4, 'Relu')];
  const graph = [
    ...bytes(1, node), ...(fused ? bytes(1, relu) : []), ...str(2, 'gemm'),
    ...bytes(11, valueInfo('A', transA ? [k, m] : [m, k])),
    ...bytes(11, valueInfo('B', transB ? [n, k] : [k, n])),
    ...(fused ? bytes(11, valueInfo('C', [n])) : []),
    ...bytes(12, valueInfo('Y', [m, n])),
  ];
  const opset = [...str(1, ''), ...int(2, 13)];
  return new Uint8Array([...int(1, 8), ...bytes(8, opset), ...bytes(7, graph)]);
}
