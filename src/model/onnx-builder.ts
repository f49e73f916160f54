// A small builder over onnx-proto: nodes with generated output names, initializers (inline or external),
// graph inputs/outputs. Encoding only; no SDAR knowledge lives here.
import { onnx } from 'onnx-proto';

export const DT = { FLOAT: 1, UINT8: 2, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

export const MS_DOMAIN = 'com.microsoft';
const OPSET = 21;
const IR_VERSION = 10;

export type Attr = number | number[] | string | { float: number } | { floats: number[] };
export type Dim = number | string; // string = symbolic

/** An initializer whose bytes live in model.data, at `offset`. */
export interface ExternalRef {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;

  input(name: string, type: DataType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: DataType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node; returns its output names (generated unless given). */
  op(type: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, opts: { outputs?: number | string[]; domain?: string } = {}): string[] {
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, () => `${type.toLowerCase()}_${this.counter++}`);
    this.nodes.push({
      opType: type, domain: opts.domain ?? '', input: [...inputs], output: outs, name: `${type}_${this.counter++}`,
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outs;
  }

  /** Single-output shorthand. */
  op1(type: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, domain = ''): string {
    return this.op(type, inputs, attrs, { domain })[0];
  }

  /** A small constant stored inline (shapes, scalars). */
  constInt64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.inline(name, DT.INT64, dims, new Uint8Array(data.buffer));
  }

  constFloat(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.inline(name, DT.FLOAT, dims, new Uint8Array(new Float32Array(values).buffer));
  }

  inline(name: string, type: DataType, dims: readonly number[], bytes: Uint8Array): string {
    this.initializers.push({ name, dataType: type, dims: [...dims], rawData: bytes });
    return name;
  }

  external(name: string, type: DataType, dims: readonly number[], ref: ExternalRef): string {
    this.initializers.push({
      name, dataType: type, dims: [...dims], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ref.location },
        { key: 'offset', value: String(ref.offset) },
        { key: 'length', value: String(ref.length) },
      ],
    });
    return name;
  }

  encode(graphName: string, docString: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION, producerName: 'simsd', producerVersion: '0.1', docString,
      opsetImport: [{ domain: '', version: OPSET }, { domain: MS_DOMAIN, version: 1 }],
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: DataType, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
