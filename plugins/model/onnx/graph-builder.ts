import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The element types the exporter uses, by ONNX `TensorProto.DataType` number. */
export const DataType = { float: 1, int64: 7, bool: 9 } as const;
export type DataTypeName = keyof typeof DataType;

/** A dimension: a fixed size, or a symbolic name that stays dynamic (`batch`, `past`). */
export type Dim = number | string;

export type AttributeValue = number | string | number[] | { float: number };

/**
 * Accumulates the nodes, initializers, inputs and outputs of one ONNX graph and encodes it as a
 * `ModelProto`. Tensor names are generated (`name_3`) unless given, so graph code reads like the
 * forward pass it mirrors.
 *
 * @example
 * const g = new GraphBuilder();
 * const x = g.input('x', 'float', ['batch', 4]);
 * g.output(g.op('Relu', [x])[0]!, 'float', ['batch', 4], 'y');
 * const bytes = g.toBytes({ opset: 17 });
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: DataTypeName, shape: Dim[]): string {
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  output(tensor: string, type: DataTypeName, shape: Dim[], name: string): void {
    // Graph outputs must be produced under their public name; rename via Identity when needed.
    const out = tensor === name ? tensor : this.op('Identity', [tensor], {}, [name])[0]!;
    this.outputs.push(valueInfo(out, type, shape));
  }

  /** A float32 weight, stored as little-endian raw bytes under `name`. */
  initializer(name: string, shape: number[], data: Float32Array): string {
    this.initializers.push({
      name,
      dims: shape,
      dataType: DataType.float,
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  /** An int64 constant, deduplicated by value so repeated shapes share one initializer. */
  int64(values: number[], shape: number[] = [values.length]): string {
    const key = `i64:${shape.join('x')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.fresh('const');
    this.initializers.push({
      name,
      dims: shape,
      dataType: DataType.int64,
      rawData: littleEndianBytes(BigInt64Array.from(values, BigInt)),
    });
    this.constants.set(key, name);
    return name;
  }

  /** A float32 scalar constant (shape []), deduplicated by value. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.initializer(this.fresh('const'), [], Float32Array.of(value));
    this.constants.set(key, name);
    return name;
  }

  /**
   * Appends a node and returns the names of its outputs (`outputs` names them, or a count asks
   * for that many generated names).
   */
  op(
    type: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    outputs: string[] | number = 1,
  ): string[] {
    const names =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(type.toLowerCase()))
        : outputs;
    this.nodes.push({
      opType: type,
      name: this.fresh(`${type}_node`),
      input: inputs,
      output: names,
      attribute: Object.entries(attributes).map(([name, v]) => attribute(name, v)),
    });
    return names;
  }

  /** Shorthand for a single-output node. */
  one(type: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.op(type, inputs, attributes)[0]!;
  }

  /**
   * The encoded `ModelProto`. `metadata` lands in `metadata_props`, where `readOnnxMetadata`
   * finds it without decoding the weights.
   */
  toBytes(opts: { opset: number; name?: string; metadata?: Record<string, string> }): Uint8Array {
    const model = onnx.ModelProto.create({
      // IR 8 is the version that introduced opset 17-18; ORT accepts it from 1.13 on.
      irVersion: 8,
      producerName: 'heldout',
      opsetImport: [{ domain: '', version: opts.opset }],
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: opts.name ?? 'graph',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: DataTypeName, shape: Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType[type],
        shape: {
          dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, v: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
  // Plain numbers are ints: every float attribute is written `{ float: x }` to say so.
  return { name, type: T.INT, i: v };
}

/** ONNX raw_data is little-endian whatever the host; typed arrays use the host's order. */
function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) return bytes;
  const swapped = new Uint8Array(bytes);
  const width = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < swapped.length; i += width) swapped.subarray(i, i + width).reverse();
  return swapped;
}

/**
 * The `metadata_props` of an encoded model. Scans the top-level fields only, so the graph and its
 * weights (hundreds of MB for GPT-2 small) are skipped over rather than decoded.
 *
 * @example
 * readOnnxMetadata(fs.readFileSync('model.onnx'))['heldout.config'];
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  let pos = 0;
  const varint = () => {
    let value = 0;
    // Multiplication, not shifts: lengths can pass 2^31 and JS shifts are 32-bit.
    for (let scale = 1; ; scale *= 128) {
      const byte = bytes[pos++];
      if (byte === undefined) throw new Error('truncated ONNX model');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  const out: Record<string, string> = {};
  while (pos < bytes.length) {
    const tag = varint();
    const wire = tag % 8;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      // ModelProto.metadata_props is field 14.
      if (Math.floor(tag / 8) === 14) {
        const entry = onnx.StringStringEntryProto.decode(bytes.subarray(pos, pos + length));
        out[entry.key] = entry.value;
      }
      pos += length;
    } else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
  return out;
}
