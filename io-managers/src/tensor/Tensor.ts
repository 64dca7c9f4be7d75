/**
 * Tensors: a typed array with a shape and a dtype, and their Arrow form, the `arrow.fixed_shape_tensor`
 * canonical extension (a FixedSizeList column), so that a tensor moves between steps through any IO
 * manager that stores Arrow tables. Build one with `tensor`, store it with `tensorToArrow`, read it back
 * with `tensorFromArrow`.
 */
import {
  Data as ArrowData,
  Bool,
  BufferType,
  DataType,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  makeData,
  Precision,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Uint8,
  Uint16,
  Uint32
} from "apache-arrow"
import * as Data from "effect/Data"

/** The element types a tensor can hold. */
export type DType =
  | "float32"
  | "float64"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "bool"

/** The typed array that holds the elements of each dtype (`bool`: a Uint8Array of 0s and 1s). */
export interface TypedArrays {
  readonly float32: Float32Array
  readonly float64: Float64Array
  readonly int8: Int8Array
  readonly int16: Int16Array
  readonly int32: Int32Array
  readonly int64: BigInt64Array
  readonly uint8: Uint8Array
  readonly uint16: Uint16Array
  readonly uint32: Uint32Array
  readonly bool: Uint8Array
}

/** The typed array of dtype `D`. */
export type TypedArrayOf<D extends DType> = TypedArrays[D]

/** Any typed array a tensor can hold. */
export type TensorData = TypedArrayOf<DType>

/** The dtype inferred from a typed array's class (a Uint8Array is `uint8`; pass `"bool"` explicitly). */
export type DTypeOf<A extends TensorData> = A extends Float32Array
  ? "float32"
  : A extends Float64Array
    ? "float64"
    : A extends Int8Array
      ? "int8"
      : A extends Int16Array
        ? "int16"
        : A extends Int32Array
          ? "int32"
          : A extends BigInt64Array
            ? "int64"
            : A extends Uint8Array
              ? "uint8"
              : A extends Uint16Array
                ? "uint16"
                : "uint32"

/**
 * An n-dimensional array: `data` holds the elements in row-major (C) order and `shape` its dimensions.
 * `Tensor` without a parameter is the union over every dtype, narrowed by `dtype`.
 */
export type Tensor<D extends DType = DType> = D extends DType
  ? {
      readonly dtype: D
      readonly shape: ReadonlyArray<number>
      readonly data: TypedArrayOf<D>
    }
  : never

/** A tensor whose shape, data or dtype do not fit together, or a table that does not hold a tensor. */
export class TensorError extends Data.TaggedError("TensorError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** The name of the single column `tensorToArrow` writes. */
export const TENSOR_COLUMN = "tensor"

/** The canonical extension name, in the field's `ARROW:extension:name` metadata. */
export const FIXED_SHAPE_TENSOR = "arrow.fixed_shape_tensor"

/**
 * Field metadata telling how the rows map to the tensor: `batch` (the first dimension runs along the
 * rows, each row holding a tensor of the remaining dimensions) or `single` (one row holds the whole
 * tensor, for shapes of fewer than two dimensions). Readers that do not know it see a batch.
 */
export const TENSOR_LAYOUT_KEY = "materia:tensor_layout"

const EXTENSION_NAME_KEY = "ARROW:extension:name"
const EXTENSION_METADATA_KEY = "ARROW:extension:metadata"
/** Arrow stores a FixedSizeList's size and a batch's length as 32-bit signed integers. */
const MAX_INT32 = 2 ** 31 - 1

interface DTypeSpec {
  /** The typed array class's name, as its `Symbol.toStringTag` reports it (also across realms). */
  readonly array: string
  readonly arrow: () => DataType
}

const dtypes: { readonly [D in DType]: DTypeSpec } = {
  float32: { array: "Float32Array", arrow: () => new Float32() },
  float64: { array: "Float64Array", arrow: () => new Float64() },
  int8: { array: "Int8Array", arrow: () => new Int8() },
  int16: { array: "Int16Array", arrow: () => new Int16() },
  int32: { array: "Int32Array", arrow: () => new Int32() },
  int64: { array: "BigInt64Array", arrow: () => new Int64() },
  uint8: { array: "Uint8Array", arrow: () => new Uint8() },
  uint16: { array: "Uint16Array", arrow: () => new Uint16() },
  uint32: { array: "Uint32Array", arrow: () => new Uint32() },
  bool: { array: "Uint8Array", arrow: () => new Bool() }
}

const dtypeNames = Object.keys(dtypes) as ReadonlyArray<DType>
const isDType = (value: unknown): value is DType =>
  typeof value === "string" && (dtypeNames as ReadonlyArray<string>).includes(value)

/** The class name of a typed array (`Float32Array`), or a description of what else `value` is. */
const arrayKind = (value: unknown): string => {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const tag = (value as { readonly [Symbol.toStringTag]?: unknown })[Symbol.toStringTag]
    if (typeof tag === "string") return tag
  }
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  return typeof value === "object" ? "an object that is not a typed array" : typeof value
}

const isTypedArrayOf = <D extends DType>(dtype: D, value: unknown): value is TypedArrayOf<D> =>
  arrayKind(value) === dtypes[dtype].array

const dtypeOfArray = (data: unknown): DType | undefined => {
  const kind = arrayKind(data)
  return dtypeNames.find((dtype) => dtype !== "bool" && dtypes[dtype].array === kind)
}

const formatShape = (shape: ReadonlyArray<unknown>): string => `[${shape.map(String).join(", ")}]`

function fail(reason: string): never {
  throw new TensorError({ reason })
}

/** The number of elements of a shape, after checking each dimension is a non-negative integer. */
const elementCount = (shape: ReadonlyArray<unknown>, what: string): number => {
  let count = 1
  for (const [i, dim] of shape.entries()) {
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0)
      fail(
        `${what} ${formatShape(shape)}: dimension ${i} is ${typeof dim === "number" ? dim : typeof dim}, expected a non-negative integer`
      )
    count *= dim
  }
  if (!Number.isSafeInteger(count))
    fail(`${what} ${formatShape(shape)} has more elements than a typed array can hold`)
  return count
}

/** Checks that a tensor's dtype, data and shape fit together; a bool tensor holds only 0s and 1s. */
const checkTensor = (dtype: unknown, data: unknown, shape: unknown): void => {
  if (!isDType(dtype))
    fail(`unknown tensor dtype ${JSON.stringify(dtype)} (expected one of ${dtypeNames.join(", ")})`)
  if (!isTypedArrayOf(dtype, data))
    fail(`a tensor of dtype ${dtype} needs ${dtypes[dtype].array} data, found ${arrayKind(data)}`)
  if (!Array.isArray(shape)) fail(`a tensor shape is an array of dimensions, found ${arrayKind(shape)}`)
  const dims: ReadonlyArray<unknown> = shape
  const count = elementCount(dims, "tensor shape")
  if (count !== data.length)
    fail(
      `tensor shape ${formatShape(dims)} has ${count} elements (the product of its dimensions), but the data has ${data.length}`
    )
  if (dtype === "bool") {
    const bytes = data as Uint8Array
    for (let i = 0; i < bytes.length; i++)
      if (bytes[i]! > 1) fail(`a bool tensor holds only 0 and 1, found ${bytes[i]} at index ${i}`)
  }
}

/**
 * Makes a tensor, checking that the shape's dimensions are non-negative integers whose product is the
 * data's length and that the data is the dtype's typed array. The data is kept, not copied.
 * @example tensor(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]) // dtype "float32"
 */
export function tensor<A extends TensorData>(data: A, shape: ReadonlyArray<number>): Tensor<DTypeOf<A>>
export function tensor<D extends DType>(
  data: TypedArrayOf<D>,
  shape: ReadonlyArray<number>,
  dtype: D
): Tensor<D>
export function tensor(data: TensorData, shape: ReadonlyArray<number>, dtype?: DType): Tensor {
  const resolved =
    dtype ??
    dtypeOfArray(data) ??
    fail(
      `cannot infer a tensor dtype from ${arrayKind(data)} (expected one of Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, BigInt64Array, Uint8Array, Uint16Array, Uint32Array)`
    )
  checkTensor(resolved, data, shape)
  return { dtype: resolved, shape: Object.freeze([...shape]), data } as Tensor
}

/** Packs 0/1 bytes into Arrow's validity-style bitmap, least significant bit first. */
const packBits = (bytes: Uint8Array): Uint8Array => {
  const bits = new Uint8Array(Math.ceil(bytes.length / 8))
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 1) bits[i >> 3]! |= 1 << (i & 7)
  return bits
}

/**
 * The tensor as an Arrow table of one non-nullable column `tensor` of type FixedSizeList with the
 * `arrow.fixed_shape_tensor` extension metadata on its field. A tensor of two or more dimensions
 * `[N, ...rest]` becomes N rows, each a tensor of shape `rest` (the extension's batch layout, so an
 * `[N, H, W]` stack of images is N rows of `[H, W]`); one of fewer dimensions becomes a single row
 * holding the whole tensor. The data is shared with the table, not copied, except for `bool`, which
 * Arrow stores as bits.
 */
export const tensorToArrow = (t: Tensor): Table => {
  checkTensor(t.dtype, t.data, t.shape)
  const batched = t.shape.length >= 2
  const rows = batched ? t.shape[0]! : 1
  const rowShape = batched ? t.shape.slice(1) : t.shape
  const listSize = rowShape.reduce((product, dim) => product * dim, 1)
  if (listSize > MAX_INT32 || rows > MAX_INT32)
    fail(
      `tensor shape ${formatShape(t.shape)} does not fit Arrow: ${rows} rows of ${listSize} elements, each at most ${MAX_INT32}`
    )
  const valueType = dtypes[t.dtype].arrow()
  // The list's child is Arrow's default nullable `item` field, so the storage type is exactly the
  // `fixed_size_list(<type>, <size>)` that Arrow C++ and pyarrow build for this extension.
  const listType = new FixedSizeList(listSize, new Field("item", valueType, true))
  const metadata = new Map([
    [EXTENSION_NAME_KEY, FIXED_SHAPE_TENSOR],
    [EXTENSION_METADATA_KEY, JSON.stringify({ shape: rowShape })],
    [TENSOR_LAYOUT_KEY, batched ? "batch" : "single"]
  ])
  const field = new Field(TENSOR_COLUMN, listType, false, metadata)
  // The value buffer is the tensor's own typed array (a Buffer is viewed as a plain Uint8Array).
  const buffer =
    t.dtype === "bool"
      ? packBits(t.data)
      : t.data instanceof Uint8Array
        ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length)
        : t.data
  const values = new ArrowData(valueType, 0, t.data.length, 0, { [BufferType.DATA]: buffer })
  const list = makeData({ type: listType, length: rows, nullCount: 0, child: values })
  const schema = new Schema([field])
  const struct = makeData({ type: new Struct([field]), length: rows, nullCount: 0, children: [list] })
  return new Table(schema, new RecordBatch(schema, struct))
}

/** The dtype that reads an Arrow element type, or `undefined` when no dtype does. */
const dtypeOfArrow = (type: DataType): DType | undefined => {
  if (DataType.isBool(type)) return "bool"
  if (DataType.isFloat(type))
    return type.precision === Precision.SINGLE
      ? "float32"
      : type.precision === Precision.DOUBLE
        ? "float64"
        : undefined
  if (DataType.isInt(type)) {
    const found = `${type.isSigned ? "int" : "uint"}${type.bitWidth}`
    return isDType(found) && found !== "bool" ? found : undefined
  }
  return undefined
}

/** Parses the extension's JSON metadata into the per-row shape, refusing what this reader cannot honour. */
const rowShapeOf = (where: string, json: string | undefined): ReadonlyArray<number> => {
  if (json === undefined)
    return fail(`${where} has no ${EXTENSION_METADATA_KEY} metadata (expected {"shape":[...]})`)
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return fail(
      `${where} has ${EXTENSION_METADATA_KEY} ${json}, which is not JSON (expected {"shape":[...]})`
    )
  }
  const shape = (parsed as { readonly shape?: unknown } | null)?.shape
  if (!Array.isArray(shape))
    return fail(
      `${where} has ${EXTENSION_METADATA_KEY} ${json} without a "shape" array (expected {"shape":[...]})`
    )
  elementCount(shape, `${where} has a shape`)
  const permutation = (parsed as { readonly permutation?: unknown }).permutation
  if (
    permutation !== undefined &&
    !(Array.isArray(permutation) && permutation.every((axis, i) => axis === i))
  )
    fail(`${where} stores a permuted layout ${JSON.stringify(permutation)}, which is not supported`)
  return shape as ReadonlyArray<number>
}

/** The column to read: the one named `column`, or the table's only column. */
const columnIndex = (table: Table, column: string | undefined): number => {
  const names = table.schema.fields.map((field) => field.name)
  const quoted = names.map((name) => JSON.stringify(name)).join(", ")
  if (column !== undefined) {
    const index = names.indexOf(column)
    return index >= 0
      ? index
      : fail(`the table has no column ${JSON.stringify(column)} (its columns: ${quoted || "none"})`)
  }
  if (names.length === 1) return 0
  return fail(
    names.length === 0
      ? "the table has no columns, expected one arrow.fixed_shape_tensor column"
      : `the table has ${names.length} columns (${quoted}): name the tensor column to read`
  )
}

/**
 * The first `count` elements of one record batch's column chunk: a view on the chunk's value buffer,
 * except for bool, whose bits are unpacked into new bytes.
 */
const elementsOf = (
  dtype: DType,
  chunk: ArrowData<FixedSizeList>,
  count: number,
  where: string
): TensorData => {
  const child = chunk.children[0]
  if (child === undefined || child.length < count)
    return fail(`${where} has a record batch whose list values are missing or shorter than ${count}`)
  if (child.nullCount > 0) fail(`${where} holds null elements: a tensor has a value at every position`)
  const values: unknown = child.values
  if (dtype === "bool") {
    if (!(values instanceof Uint8Array)) return fail(`${where} has a bool chunk without a bit buffer`)
    const bytes = new Uint8Array(count)
    // Bits are not sliced with the data: element i is bit `offset + i`.
    for (let i = 0, bit = child.offset; i < count; i++, bit++) bytes[i] = (values[bit >> 3]! >> (bit & 7)) & 1
    return bytes
  }
  if (!isTypedArrayOf(dtype, values))
    return fail(
      `${where} has a ${dtype} chunk whose buffer is ${arrayKind(values)}, expected ${dtypes[dtype].array}`
    )
  // Arrow slices a primitive value buffer along with its data, so the chunk's elements start at 0.
  return values.subarray(0, count)
}

/** A typed array of `dtype` with room for `length` elements. */
const allocate = (dtype: DType, length: number): TensorData => {
  switch (dtype) {
    case "float32":
      return new Float32Array(length)
    case "float64":
      return new Float64Array(length)
    case "int8":
      return new Int8Array(length)
    case "int16":
      return new Int16Array(length)
    case "int32":
      return new Int32Array(length)
    case "int64":
      return new BigInt64Array(length)
    case "uint16":
      return new Uint16Array(length)
    case "uint32":
      return new Uint32Array(length)
    case "uint8":
    case "bool":
      return new Uint8Array(length)
  }
}

/** Copies `source` into `target` at `offset`; both hold the same dtype. */
const copyInto = (target: TensorData, source: TensorData, offset: number): void => {
  if (target instanceof BigInt64Array) target.set(source as BigInt64Array, offset)
  else
    (target as Exclude<TensorData, BigInt64Array>).set(source as Exclude<TensorData, BigInt64Array>, offset)
}

/**
 * The tensor stored in an `arrow.fixed_shape_tensor` column (the table's only column, or the one named
 * `column`): `[rows, ...shape]`, or the row's own shape for a table `tensorToArrow` wrote from a tensor
 * of fewer than two dimensions. Zero-copy when the rows sit in one record batch: the data is then a
 * view on the column's value buffer (the tensor and the table share memory). The elements are copied
 * when they are spread over two or more non-empty record batches, and for `bool` (stored as bits).
 */
export const tensorFromArrow = (table: Table, column?: string): Tensor => {
  const index = columnIndex(table, column)
  const field = table.schema.fields[index]!
  const where = `column ${JSON.stringify(field.name)}`
  const extension = field.metadata.get(EXTENSION_NAME_KEY)
  const type: DataType = field.type
  if (extension === undefined)
    fail(
      `${where} is not an ${FIXED_SHAPE_TENSOR}: its field has no ${EXTENSION_NAME_KEY} metadata (found type ${type}); write tensors with tensorToArrow`
    )
  if (extension !== FIXED_SHAPE_TENSOR)
    fail(`${where} is the extension type "${extension}", expected "${FIXED_SHAPE_TENSOR}"`)
  if (!DataType.isFixedSizeList(type))
    return fail(`${where} has type ${type}, but an ${FIXED_SHAPE_TENSOR} is stored as a FixedSizeList`)
  const listType: FixedSizeList = type
  const valueType: DataType = listType.valueType
  const dtype =
    dtypeOfArrow(valueType) ??
    fail(
      `${where} holds ${valueType} elements, which no tensor dtype reads (expected Float32, Float64, Int8/16/32/64, Uint8/16/32 or Bool)`
    )
  const rowShape = rowShapeOf(where, field.metadata.get(EXTENSION_METADATA_KEY))
  const rowSize = rowShape.reduce((product, dim) => product * dim, 1)
  if (rowSize !== listType.listSize)
    fail(
      `${where} has shape metadata ${formatShape(rowShape)} (${rowSize} elements per row), but its lists hold ${listType.listSize}`
    )
  const layout = field.metadata.get(TENSOR_LAYOUT_KEY) ?? "batch"
  if (layout !== "batch" && layout !== "single")
    fail(`${where} has ${TENSOR_LAYOUT_KEY} "${layout}", expected "batch" or "single"`)
  const rows = table.numRows
  if (layout === "single" && rows !== 1)
    fail(`${where} holds a single tensor (${TENSOR_LAYOUT_KEY} "single") but has ${rows} rows, expected 1`)
  const shape = layout === "single" ? [...rowShape] : [rows, ...rowShape]

  const chunks = (table.getChildAt(index)?.data ?? []).filter((chunk) => chunk.length > 0)
  for (const chunk of chunks)
    if (chunk.nullCount > 0) fail(`${where} has null rows: a tensor has no missing rows`)
  let data: TensorData
  if (chunks.length === 1) data = elementsOf(dtype, chunks[0]!, rows * rowSize, where)
  else {
    data = allocate(dtype, rows * rowSize)
    let offset = 0
    for (const chunk of chunks) {
      const count = chunk.length * rowSize
      copyInto(data, elementsOf(dtype, chunk, count, where), offset)
      offset += count
    }
  }
  return { dtype, shape: Object.freeze(shape), data } as Tensor
}
