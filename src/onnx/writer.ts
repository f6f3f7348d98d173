// Owns: a small graph-building API that turns inputs, initializers and nodes into .onnx bytes, and the
// mapping from Tiffin dtypes to ONNX data types. Knows nothing about any particular model (builders.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TiffinError } from '../errors/index.ts';
import { bytesPerElement, elementCount, type DType } from '../runtime/tensor.ts';
import { toBFloat16Bits, toFloat16Bits } from '../runtime/half.ts';
import {
  AttributeType, DataType, encodeModel,
  type AttributeProtoObject, type DimensionObject, type Int64, type ModelProtoObject,
  type NodeProtoObject, type TensorProtoObject, type ValueInfoProtoObject,
} from './proto.ts';

export const ONNX_DATA_TYPE: Record<DType, number> = {
  float16: DataType.FLOAT16, bfloat16: DataType.BFLOAT16, float32: DataType.FLOAT, float64: DataType.DOUBLE,
  int8: DataType.INT8, int16: DataType.INT16, int32: DataType.INT32, int64: DataType.INT64,
  uint8: DataType.UINT8, uint16: DataType.UINT16, uint32: DataType.UINT32, uint64: DataType.UINT64,
  bool: DataType.BOOL, string: DataType.STRING,
};

/** The Tiffin dtype for an ONNX TensorProto.DataType, or undefined for types Tiffin has no name for. */
export function dtypeFromOnnx(code: number): DType | undefined {
  for (const [dtype, value] of Object.entries(ONNX_DATA_TYPE)) if (value === code) return dtype as DType;
  return undefined;
}

/** A declared dimension: a size >= 0, -1 for an unnamed dynamic dimension, or a symbol such as 'batch'. */
export type Dim = number | string;

/**
 * Values for a constant tensor, row-major. Numbers, bigints and booleans are converted to the dtype
 * (integers must be integral and in range). For float16/bfloat16 a Uint16Array is taken as raw bits,
 * anything else as numbers to round.
 */
export type TensorValues = ArrayLike<number | bigint | boolean> | readonly string[];

const utf8 = new TextEncoder();

/** An attribute whose ONNX type is stated rather than inferred; build with the `attr` helpers. */
export class Attr {
  private constructor(readonly proto: Omit<AttributeProtoObject, 'name'>) {}

  /** @internal */
  static of(proto: Omit<AttributeProtoObject, 'name'>): Attr {
    return new Attr(proto);
  }
}

/** Explicit attribute types, for values inference would get wrong (a float that happens to be 1, an empty list). */
export const attr = {
  float: (value: number) => Attr.of({ type: AttributeType.FLOAT, f: value }),
  int: (value: number | bigint) => Attr.of({ type: AttributeType.INT, i: int64(value) }),
  string: (value: string) => Attr.of({ type: AttributeType.STRING, s: utf8.encode(value) }),
  floats: (values: ArrayLike<number>) => Attr.of({ type: AttributeType.FLOATS, floats: Array.from(values) }),
  ints: (values: ArrayLike<number | bigint>) => Attr.of({ type: AttributeType.INTS, ints: Array.from(values, int64) }),
  strings: (values: readonly string[]) => Attr.of({ type: AttributeType.STRINGS, strings: values.map((s) => utf8.encode(s)) }),
  tensor: (dtype: DType, dims: readonly number[], values: TensorValues) =>
    Attr.of({ type: AttributeType.TENSOR, t: tensorProto('', dtype, dims, values) }),
};

/**
 * An attribute value. Inferred types: an integral number or a bigint is INT, other numbers FLOAT, a
 * string STRING; a list is INTS when every entry is integral, FLOATS otherwise, STRINGS for strings.
 * Use `attr.*` when that guess is wrong.
 */
export type AttrValue = number | bigint | string | readonly number[] | readonly bigint[] | readonly string[] | Attr;

function int64(value: number | bigint): Int64 {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isSafeInteger(value)) throw new TiffinError('MODEL_INVALID', `int64 value must be a safe integer, got ${value}`);
  return value;
}

function toAttribute(name: string, value: AttrValue): AttributeProtoObject {
  if (value instanceof Attr) return { name, ...value.proto };
  if (typeof value === 'string') return { name, ...attr.string(value).proto };
  if (typeof value === 'bigint') return { name, ...attr.int(value).proto };
  if (typeof value === 'number') return { name, ...(Number.isInteger(value) ? attr.int(value) : attr.float(value)).proto };
  if (value.length === 0) throw new TiffinError('MODEL_INVALID', `attribute "${name}": an empty list has no inferable type, use attr.ints/floats/strings`);
  const list: readonly unknown[] = value;
  if (list.every((v) => typeof v === 'string')) return { name, ...attr.strings(list as string[]).proto };
  if (list.every((v) => typeof v === 'bigint' || Number.isInteger(v))) return { name, ...attr.ints(list as (number | bigint)[]).proto };
  if (list.every((v) => typeof v === 'number')) return { name, ...attr.floats(list as number[]).proto };
  throw new TiffinError('MODEL_INVALID', `attribute "${name}": a list must hold only numbers, bigints or strings`);
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};

function toNumber(v: unknown): number {
  return typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
}

function toBigInt(v: unknown, name: string): bigint {
  if (typeof v === 'bigint') return v;
  const n = toNumber(v);
  if (!Number.isInteger(n)) throw new TiffinError('MODEL_INVALID', `tensor "${name}": ${String(v)} is not an integer`);
  return BigInt(n);
}

/** Fixed-width little-endian bytes, the raw_data layout ONNX requires whatever the host's byte order. */
function rawData(name: string, dtype: Exclude<DType, 'string'>, values: Exclude<TensorValues, readonly string[]>): Uint8Array {
  const width = bytesPerElement(dtype);
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  const rawHalf = values instanceof Uint16Array;
  const range = INT_RANGE[dtype];
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    const at = i * width;
    if (dtype === 'int64') view.setBigInt64(at, BigInt.asIntN(64, toBigInt(v, name)), true);
    else if (dtype === 'uint64') view.setBigUint64(at, BigInt.asUintN(64, toBigInt(v, name)), true);
    else if (dtype === 'float32') view.setFloat32(at, toNumber(v), true);
    else if (dtype === 'float64') view.setFloat64(at, toNumber(v), true);
    else if (dtype === 'float16') view.setUint16(at, rawHalf ? toNumber(v) : toFloat16Bits(toNumber(v)), true);
    else if (dtype === 'bfloat16') view.setUint16(at, rawHalf ? toNumber(v) : toBFloat16Bits(toNumber(v)), true);
    else if (dtype === 'bool') view.setUint8(at, toNumber(v) ? 1 : 0);
    else {
      const n = toNumber(v);
      if (!Number.isInteger(n) || !range || n < range[0] || n > range[1]) {
        throw new TiffinError('MODEL_INVALID', `tensor "${name}": ${String(v)} is not a valid ${dtype}`);
      }
      if (dtype === 'int8') view.setInt8(at, n);
      else if (dtype === 'uint8') view.setUint8(at, n);
      else if (dtype === 'int16') view.setInt16(at, n, true);
      else if (dtype === 'uint16') view.setUint16(at, n, true);
      else if (dtype === 'int32') view.setInt32(at, n, true);
      else view.setUint32(at, n, true);
    }
  }
  return bytes;
}

/** A TensorProto: strings go in string_data (UTF-8), everything else in raw_data. */
export function tensorProto(name: string, dtype: DType, dims: readonly number[], values: TensorValues): TensorProtoObject {
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TiffinError('MODEL_INVALID', `tensor "${name}": dims must be non-negative integers, got [${dims.join(', ')}]`);
  }
  const count = elementCount(dims);
  if (values.length !== count) {
    throw new TiffinError('MODEL_INVALID', `tensor "${name}": dims [${dims.join(', ')}] need ${count} values, got ${values.length}`);
  }
  const proto: TensorProtoObject = { name, dims: [...dims], dataType: ONNX_DATA_TYPE[dtype] };
  if (dtype === 'string') {
    const strings = Array.from(values as ArrayLike<unknown>);
    if (!strings.every((s) => typeof s === 'string')) throw new TiffinError('MODEL_INVALID', `tensor "${name}": string tensors need string values`);
    proto.stringData = strings.map((s) => utf8.encode(s as string));
  } else {
    if (Array.from(values as ArrayLike<unknown>).some((v) => typeof v === 'string')) {
      throw new TiffinError('MODEL_INVALID', `tensor "${name}": ${dtype} tensors cannot hold strings`);
    }
    proto.rawData = rawData(name, dtype, values as Exclude<TensorValues, readonly string[]>);
  }
  return proto;
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[] | undefined): ValueInfoProtoObject {
  const dims = shape?.map((d): DimensionObject => {
    if (typeof d === 'string') return { dimParam: d };
    if (d === -1) return {};
    if (!Number.isInteger(d) || d < 0) throw new TiffinError('MODEL_INVALID', `"${name}": dimension ${d} must be >= 0, -1 or a symbol`);
    return { dimValue: d };
  });
  const tensorType = dims ? { elemType: ONNX_DATA_TYPE[dtype], shape: { dim: dims } } : { elemType: ONNX_DATA_TYPE[dtype] };
  return { name, type: { tensorType } };
}

export interface NodeOptions {
  /** Operator set domain: '' (default ONNX ops) or e.g. 'ai.onnx.ml'. */
  domain?: string;
  /** Node name; defaults to `${opType}_${index}`. */
  name?: string;
}

export interface BuildOptions {
  /** Default-domain opset version (default 17). */
  opset?: number;
  /** ai.onnx.ml opset version (default 3), imported when a node uses that domain or when given. */
  mlOpset?: number;
  /** Versions for any other domain the nodes use. */
  opsets?: Record<string, number>;
  /** ModelProto IR version (default 8). */
  irVersion?: number;
  producer?: string;
  producerVersion?: string;
  docString?: string;
  /** Stored as ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

const ML_DOMAIN = 'ai.onnx.ml';

/** Collects a graph in order, checks that every name is defined before use, and encodes a ModelProto. */
export class GraphBuilder {
  private readonly inputs: ValueInfoProtoObject[] = [];
  private readonly outputs: ValueInfoProtoObject[] = [];
  private readonly initializers: TensorProtoObject[] = [];
  private readonly nodes: NodeProtoObject[] = [];
  /** Every value name defined so far: graph inputs, initializers and node outputs. */
  private readonly defined = new Set<string>();

  constructor(readonly name: string) {}

  input(name: string, dtype: DType, shape: readonly Dim[]): this {
    this.define(name);
    this.inputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  /** Declares a graph output; without a shape its rank is left unknown. Checked against the nodes at build. */
  output(name: string, dtype: DType, shape?: readonly Dim[]): this {
    if (this.outputs.some((o) => o.name === name)) throw new TiffinError('MODEL_INVALID', `output "${name}" declared twice`);
    this.outputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  initializer(name: string, dtype: DType, dims: readonly number[], values: TensorValues): this {
    this.define(name);
    this.initializers.push(tensorProto(name, dtype, dims, values));
    return this;
  }

  /** Appends a node; nodes must come in topological order. An empty input name skips an optional input. */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}, options: NodeOptions = {}): this {
    for (const input of inputs) {
      if (input !== '' && !this.defined.has(input)) {
        throw new TiffinError('MODEL_INVALID', `${opType} node: input "${input}" is not defined yet (graph input, initializer or earlier node output)`);
      }
    }
    for (const output of outputs) this.define(output);
    const node: NodeProtoObject = {
      name: options.name ?? `${opType}_${this.nodes.length}`,
      opType,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([key, value]) => toAttribute(key, value)),
    };
    if (options.domain) node.domain = options.domain;
    this.nodes.push(node);
    return this;
  }

  /** The ModelProto as a plain object, for inspection; `build` encodes the same thing. */
  toProto(options: BuildOptions = {}): ModelProtoObject {
    for (const output of this.outputs) {
      if (!this.defined.has(output.name ?? '')) throw new TiffinError('MODEL_INVALID', `output "${output.name}" is not produced by any node`);
    }
    if (this.outputs.length === 0) throw new TiffinError('MODEL_INVALID', `graph "${this.name}" declares no outputs`);
    const model: ModelProtoObject = {
      irVersion: options.irVersion ?? 8,
      opsetImport: this.opsetImports(options),
      producerName: options.producer ?? 'tiffin',
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    if (options.producerVersion !== undefined) model.producerVersion = options.producerVersion;
    if (options.docString !== undefined) model.docString = options.docString;
    if (options.metadata) model.metadataProps = Object.entries(options.metadata).map(([key, value]) => ({ key, value }));
    return model;
  }

  build(options: BuildOptions = {}): Uint8Array {
    return encodeModel(this.toProto(options));
  }

  private define(name: string): void {
    if (name === '') throw new TiffinError('MODEL_INVALID', 'value names must not be empty');
    if (this.defined.has(name)) throw new TiffinError('MODEL_INVALID', `value "${name}" is defined twice`);
    this.defined.add(name);
  }

  private opsetImports(options: BuildOptions): { domain: string; version: number }[] {
    const imports = new Map<string, number>([['', options.opset ?? 17]]);
    if (options.mlOpset !== undefined) imports.set(ML_DOMAIN, options.mlOpset);
    for (const [domain, version] of Object.entries(options.opsets ?? {})) imports.set(domain, version);
    for (const node of this.nodes) {
      const domain = node.domain ?? '';
      if (domain === '' || domain === 'ai.onnx' || imports.has(domain)) continue;
      if (domain === ML_DOMAIN) imports.set(ML_DOMAIN, 3);
      else throw new TiffinError('MODEL_INVALID', `node ${node.name} uses domain "${domain}": give its version in options.opsets`);
    }
    return [...imports].map(([domain, version]) => ({ domain, version }));
  }
}

/** Writes model bytes to `path`, creating parent folders. */
export async function writeModel(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}
