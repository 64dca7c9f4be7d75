import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { OutputContext } from "@materia/core"
import {
  type Data,
  Field,
  FixedSizeList,
  Float64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromArrays,
  tableFromIPC,
  tableToIPC
} from "apache-arrow"
import * as Effect from "effect/Effect"
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest"
import { makeFsIOManager } from "../fs/FsIOManager.ts"
import {
  type DType,
  FIXED_SHAPE_TENSOR,
  TENSOR_COLUMN,
  TENSOR_LAYOUT_KEY,
  type Tensor,
  type TensorData,
  TensorError,
  type TypedArrayOf,
  tensor,
  tensorFromArrow,
  tensorToArrow
} from "./Tensor.ts"

/** `n` sample values of each dtype, reaching each type's extremes (int64 beyond 2^53). */
const samples: { readonly [D in DType]: (n: number) => TypedArrayOf<D> } = {
  float32: (n) => Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i * 0.5 : -i * 1e30)),
  float64: (n) => Float64Array.from({ length: n }, (_, i) => (i === 1 ? Number.NaN : i * 1e300 - 0.125)),
  int8: (n) => Int8Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -128 + i : 127 - i)),
  int16: (n) => Int16Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -32768 + i : 32767 - i)),
  int32: (n) => Int32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -(2 ** 31) + i : 2 ** 31 - 1 - i)),
  int64: (n) =>
    BigInt64Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? -(2n ** 63n) + BigInt(i) : 2n ** 62n + BigInt(i)
    ),
  uint8: (n) => Uint8Array.from({ length: n }, (_, i) => 255 - i),
  uint16: (n) => Uint16Array.from({ length: n }, (_, i) => 65535 - i),
  uint32: (n) => Uint32Array.from({ length: n }, (_, i) => 2 ** 32 - 1 - i),
  bool: (n) => Uint8Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 0 : 1))
}

const dtypeList = Object.keys(samples) as ReadonlyArray<DType>
const shapes: ReadonlyArray<ReadonlyArray<number>> = [[0], [5], [2, 3], [2, 3, 4]]

const sample = <D extends DType>(dtype: D, shape: ReadonlyArray<number>): Tensor<D> => {
  const make: (n: number) => TypedArrayOf<D> = samples[dtype]
  return tensor(make(shape.reduce((a, b) => a * b, 1)), shape, dtype)
}

/** The column's record batch chunks. */
const chunksOf = (table: Table): ReadonlyArray<Data<FixedSizeList>> => table.getChildAt(0)?.data ?? []

/** The value buffer (of the list's child) of the table's first chunk. */
const valuesOf = (table: Table): TensorData => chunksOf(table)[0]!.children[0]!.values as TensorData

const thrown = (run: () => unknown): TensorError => {
  try {
    run()
  } catch (error) {
    if (error instanceof TensorError) return error
    throw error
  }
  throw new Error("expected a TensorError, nothing was thrown")
}

/** A one-column table with the given field metadata over a FixedSizeList<Float64> of `listSize`. */
const listTable = (
  listSize: number,
  rows: number,
  metadata: ReadonlyArray<readonly [string, string]>,
  nullBitmap?: Uint8Array
): Table => {
  const listType = new FixedSizeList(listSize, new Field("item", new Float64(), true))
  const field = new Field("t", listType, true, new Map(metadata))
  const values = makeData({
    type: new Float64(),
    data: Float64Array.from({ length: rows * listSize }, (_, i) => i)
  })
  const list = makeData({
    type: listType,
    length: rows,
    child: values,
    ...(nullBitmap === undefined ? {} : { nullBitmap })
  })
  const schema = new Schema([field])
  return new Table(
    schema,
    new RecordBatch(schema, makeData({ type: new Struct([field]), length: rows, children: [list] }))
  )
}

const extensionOf = (shape: ReadonlyArray<number>): ReadonlyArray<readonly [string, string]> => [
  ["ARROW:extension:name", FIXED_SHAPE_TENSOR],
  ["ARROW:extension:metadata", JSON.stringify({ shape })]
]

describe("tensor", () => {
  it("infers the dtype from the typed array, and takes bool explicitly", () => {
    const floats = tensor(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3])
    expectTypeOf(floats).toEqualTypeOf<Tensor<"float32">>()
    expect(floats.dtype).toBe("float32")
    expect(floats.shape).toEqual([2, 3])
    const longs = tensor(BigInt64Array.of(1n, -1n), [2])
    expectTypeOf(longs).toEqualTypeOf<Tensor<"int64">>()
    expect(longs.dtype).toBe("int64")
    expect(tensor(Uint8Array.of(1, 0), [2]).dtype).toBe("uint8")
    const mask = tensor(Uint8Array.of(1, 0), [2], "bool")
    expectTypeOf(mask).toEqualTypeOf<Tensor<"bool">>()
    expect(mask.dtype).toBe("bool")
    expect(tensor(Float64Array.of(7), []).shape).toEqual([])
  })

  it("keeps the data without copying and the shape as a frozen copy", () => {
    const data = Int32Array.of(1, 2, 3, 4)
    const shape = [2, 2]
    const t = tensor(data, shape)
    expect(t.data).toBe(data)
    shape[0] = 4
    expect(t.shape).toEqual([2, 2])
    expect(Object.isFrozen(t.shape)).toBe(true)
  })

  it("refuses a shape whose product is not the data length, naming the shape, the product and the length", () => {
    const error = thrown(() => tensor(Float32Array.of(1, 2, 3, 4, 5), [2, 3]))
    expect(error._tag).toBe("TensorError")
    expect(error.message).toBe(
      "tensor shape [2, 3] has 6 elements (the product of its dimensions), but the data has 5"
    )
    expect(thrown(() => tensor(BigInt64Array.of(1n, 2n, 3n, 4n), [3])).message).toBe(
      "tensor shape [3] has 3 elements (the product of its dimensions), but the data has 4"
    )
    expect(tensor(new Float64Array(0), [2, 0, 3]).shape).toEqual([2, 0, 3])
  })

  it("refuses negative, fractional and non-numeric dimensions", () => {
    expect(thrown(() => tensor(new Float32Array(2), [-1, -2])).message).toBe(
      "tensor shape [-1, -2]: dimension 0 is -1, expected a non-negative integer"
    )
    expect(thrown(() => tensor(new Float32Array(3), [2, 1.5])).message).toBe(
      "tensor shape [2, 1.5]: dimension 1 is 1.5, expected a non-negative integer"
    )
    expect(thrown(() => tensor(new Float32Array(3), [Number.NaN])).message).toContain("dimension 0 is NaN")
    const stringly: ReadonlyArray<number> = JSON.parse('["3"]')
    expect(thrown(() => tensor(new Float32Array(3), stringly)).message).toContain("dimension 0 is string")
  })

  it("refuses data that is not the dtype's typed array, and bool bytes other than 0 and 1", () => {
    const asInt32: (data: Float32Array) => Tensor<"int32"> = (data) =>
      tensor(data as unknown as Int32Array, [2], "int32")
    expect(thrown(() => asInt32(Float32Array.of(1, 2))).message).toBe(
      "a tensor of dtype int32 needs Int32Array data, found Float32Array"
    )
    expect(thrown(() => tensor(Int8Array.of(1, 0), [2], "bool" as "int8")).message).toBe(
      "a tensor of dtype bool needs Uint8Array data, found Int8Array"
    )
    expect(thrown(() => tensor(Uint8Array.of(1, 0, 2), [3], "bool")).message).toBe(
      "a bool tensor holds only 0 and 1, found 2 at index 2"
    )
    const plain: TensorData = JSON.parse("[1, 2]")
    expect(thrown(() => tensor(plain, [2])).message).toContain("cannot infer a tensor dtype from an array")
  })
})

describe("tensorToArrow / tensorFromArrow", () => {
  for (const dtype of dtypeList)
    for (const shape of shapes)
      it(`round-trips a ${dtype} tensor of shape [${shape.join(", ")}], also through Arrow IPC`, () => {
        const original = sample(dtype, shape)
        const table = tensorToArrow(original)
        expect(tensorFromArrow(table)).toEqual(original)
        const reread = tensorFromArrow(tableFromIPC(tableToIPC(table)))
        expect(reread).toEqual(original)
        expect(reread.data.constructor).toBe(original.data.constructor)
      })

  it("round-trips int64 values beyond 2^53 as bigints and a bool tensor as 0s and 1s", () => {
    const big = tensor(BigInt64Array.of(2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n), [3])
    expect([...tensorFromArrow(tableFromIPC(tableToIPC(tensorToArrow(big)))).data]).toEqual([
      2n ** 63n - 1n,
      -(2n ** 63n),
      9007199254740993n
    ])
    const mask = tensor(
      Uint8Array.from({ length: 19 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      [19],
      "bool"
    )
    const back = tensorFromArrow(tensorToArrow(mask))
    expect(back.dtype).toBe("bool")
    expect([...back.data]).toEqual([...mask.data])
  })

  it("stores a tensor of two or more dimensions as a batch along its first dimension", () => {
    const table = tensorToArrow(sample("float32", [2, 3, 4]))
    expect(table.numRows).toBe(2)
    expect(table.numCols).toBe(1)
    const field = table.schema.fields[0]!
    expect(field.name).toBe(TENSOR_COLUMN)
    expect(String(field.type)).toBe("FixedSizeList[12]<Float32>")
    expect(Object.fromEntries(field.metadata)).toEqual({
      "ARROW:extension:name": "arrow.fixed_shape_tensor",
      "ARROW:extension:metadata": '{"shape":[3,4]}',
      [TENSOR_LAYOUT_KEY]: "batch"
    })
    // Row 1 is the second [3, 4] tensor.
    expect([...(table.getChildAt(0)!.get(1) as { toArray(): Float32Array }).toArray()]).toEqual([
      ...sample("float32", [2, 3, 4]).data.subarray(12)
    ])
  })

  it("stores a tensor of fewer than two dimensions as one row holding the whole tensor", () => {
    for (const [shape, size] of [
      [[5], 5],
      [[0], 0],
      [[], 1]
    ] as const) {
      const original = tensor(new Float64Array(size).fill(2), shape)
      const table = tensorToArrow(original)
      const field = table.schema.fields[0]!
      expect(table.numRows).toBe(1)
      expect(String(field.type)).toBe(`FixedSizeList[${size}]<Float64>`)
      expect(field.metadata.get("ARROW:extension:metadata")).toBe(JSON.stringify({ shape }))
      expect(field.metadata.get(TENSOR_LAYOUT_KEY)).toBe("single")
      expect(tensorFromArrow(table)).toEqual(original)
    }
  })

  it("round-trips tensors with a zero dimension after the first, and with zero rows", () => {
    for (const shape of [
      [3, 0],
      [0, 3],
      [0, 2, 2]
    ]) {
      const original = sample("int16", shape)
      expect(tensorFromArrow(tableFromIPC(tableToIPC(tensorToArrow(original))))).toEqual(original)
    }
  })

  it("shares the tensor's buffer with the table, both ways, when the rows sit in one record batch", () => {
    for (const dtype of dtypeList.filter((d) => d !== "bool")) {
      const original = sample(dtype, [2, 3, 4])
      const table = tensorToArrow(original)
      expect(valuesOf(table).buffer).toBe(original.data.buffer)
      const back = tensorFromArrow(table)
      expect(back.data.buffer).toBe(valuesOf(table).buffer)

      const loaded = tableFromIPC(tableToIPC(table))
      expect(loaded.batches).toHaveLength(1)
      const view = tensorFromArrow(loaded)
      expect(view.data.buffer).toBe(valuesOf(loaded).buffer)
      expect(view.data.byteOffset).toBe(valuesOf(loaded).byteOffset)
    }
  })

  it("reads a slice of a table as a view of the sliced rows, bools from the right bits", () => {
    const original = sample("int32", [5, 2])
    const sliced = tensorToArrow(original).slice(1, 4)
    const back = tensorFromArrow(sliced)
    expect(back.shape).toEqual([3, 2])
    expect([...back.data]).toEqual([...original.data.subarray(2, 8)])
    expect(back.data.buffer).toBe(original.data.buffer)

    const mask = sample("bool", [7, 3])
    const bits = tensorFromArrow(tensorToArrow(mask).slice(3, 6))
    expect([...bits.data]).toEqual([...mask.data.subarray(9, 18)])
  })

  it("copies the elements when the rows are spread over several record batches", () => {
    const first = tensor(Float64Array.of(1, 2, 3, 4), [2, 2])
    const second = tensor(Float64Array.of(5, 6), [1, 2])
    const empty = tensor(new Float64Array(0), [0, 2])
    const table = tensorToArrow(first).concat(tensorToArrow(empty), tensorToArrow(second))
    expect(table.batches).toHaveLength(3)
    const back = tensorFromArrow(table)
    expect(back).toEqual(tensor(Float64Array.of(1, 2, 3, 4, 5, 6), [3, 2]))
    expect(back.data.buffer).not.toBe(first.data.buffer)
    expect(back.data.buffer).not.toBe(second.data.buffer)
    // An empty batch beside a single non-empty one does not force a copy.
    expect(tensorFromArrow(tensorToArrow(empty).concat(tensorToArrow(first))).data.buffer).toBe(
      first.data.buffer
    )
  })

  it("reads a fixed_shape_tensor table without the layout key (another writer's) as a batch", () => {
    const back = tensorFromArrow(listTable(6, 2, extensionOf([2, 3])))
    expect(back.dtype).toBe("float64")
    expect(back.shape).toEqual([2, 2, 3])
    expect([...back.data]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    // The single-row form of a rank-1 tensor reads as a batch of one when the key is absent.
    expect(tensorFromArrow(listTable(5, 1, extensionOf([5]))).shape).toEqual([1, 5])
  })

  it("reads the named column of a table with several", () => {
    const t = sample("uint16", [2, 3])
    const table = tensorToArrow(t).assign(tableFromArrays({ id: Int32Array.of(1, 2) }))
    expect(tensorFromArrow(table, TENSOR_COLUMN)).toEqual(t)
    expect(thrown(() => tensorFromArrow(table)).message).toBe(
      'the table has 2 columns ("tensor", "id"): name the tensor column to read'
    )
    expect(thrown(() => tensorFromArrow(table, "tensr")).message).toBe(
      'the table has no column "tensr" (its columns: "tensor", "id")'
    )
  })

  it("refuses a table that is not a fixed_shape_tensor, saying what it found", () => {
    expect(thrown(() => tensorFromArrow(tableFromArrays({ x: Float64Array.of(1, 2) }))).message).toBe(
      'column "x" is not an arrow.fixed_shape_tensor: its field has no ARROW:extension:name metadata (found type Float64); write tensors with tensorToArrow'
    )
    expect(
      thrown(() => tensorFromArrow(listTable(2, 1, [["ARROW:extension:name", "arrow.uuid"]]))).message
    ).toBe('column "t" is the extension type "arrow.uuid", expected "arrow.fixed_shape_tensor"')
    const mislabelled = tableFromArrays({ x: Float64Array.of(1, 2) })
    const field = mislabelled.schema.fields[0]!
    field.metadata.set("ARROW:extension:name", FIXED_SHAPE_TENSOR)
    expect(thrown(() => tensorFromArrow(mislabelled)).message).toBe(
      'column "x" has type Float64, but an arrow.fixed_shape_tensor is stored as a FixedSizeList'
    )
    expect(thrown(() => tensorFromArrow(new Table())).message).toBe(
      "the table has no columns, expected one arrow.fixed_shape_tensor column"
    )
  })

  it("refuses missing, malformed or mismatched shape metadata", () => {
    const name = ["ARROW:extension:name", FIXED_SHAPE_TENSOR] as const
    const read = (metadata: ReadonlyArray<readonly [string, string]>, listSize = 6) =>
      thrown(() => tensorFromArrow(listTable(listSize, 2, metadata))).message
    expect(read([name])).toBe(
      'column "t" has no ARROW:extension:metadata metadata (expected {"shape":[...]})'
    )
    expect(read([name, ["ARROW:extension:metadata", "{shape"]])).toBe(
      'column "t" has ARROW:extension:metadata {shape, which is not JSON (expected {"shape":[...]})'
    )
    expect(read([name, ["ARROW:extension:metadata", '{"dims":[2,3]}']])).toBe(
      'column "t" has ARROW:extension:metadata {"dims":[2,3]} without a "shape" array (expected {"shape":[...]})'
    )
    expect(read([name, ["ARROW:extension:metadata", '{"shape":[2,-3]}']])).toBe(
      'column "t" has a shape [2, -3]: dimension 1 is -3, expected a non-negative integer'
    )
    expect(read(extensionOf([2, 2]))).toBe(
      'column "t" has shape metadata [2, 2] (4 elements per row), but its lists hold 6'
    )
    expect(read([name, ["ARROW:extension:metadata", '{"shape":[2,3],"permutation":[1,0]}']])).toBe(
      'column "t" stores a permuted layout [1,0], which is not supported'
    )
    expect(read([...extensionOf([2, 3]), [TENSOR_LAYOUT_KEY, "single"]])).toBe(
      'column "t" holds a single tensor (materia:tensor_layout "single") but has 2 rows, expected 1'
    )
    // An identity permutation and dimension names are accepted.
    const named = listTable(6, 1, [
      name,
      ["ARROW:extension:metadata", '{"shape":[2,3],"permutation":[0,1],"dim_names":["h","w"]}']
    ])
    expect(tensorFromArrow(named).shape).toEqual([1, 2, 3])
  })

  it("refuses null rows, which a tensor cannot hold", () => {
    const table = listTable(2, 3, extensionOf([2]), Uint8Array.of(0b101))
    expect(thrown(() => tensorFromArrow(table)).message).toBe(
      'column "t" has null rows: a tensor has no missing rows'
    )
  })

  it("re-checks a tensor built without `tensor`", () => {
    const forged: Tensor = { dtype: "float32", shape: [4], data: new Float32Array(3) }
    expect(thrown(() => tensorToArrow(forged)).message).toBe(
      "tensor shape [4] has 4 elements (the product of its dimensions), but the data has 3"
    )
  })
})

describe("tensors through the fs IO manager", () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "materia-tensor-"))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  const context = (attemptId: string): OutputContext => ({
    assetKey: "ml/images",
    assetPath: ["ml", "images"],
    runId: "run1",
    attemptId,
    codeVersion: "v1",
    inputVersions: {}
  })

  it("stores the Arrow form and loads back the same tensor, every dtype, as a view on the loaded table", async () => {
    const io = makeFsIOManager({ root })
    for (const [i, dtype] of dtypeList.entries()) {
      const original = sample(dtype, [2, 3, 4])
      const stored = await Effect.runPromise(io.write(tensorToArrow(original), context(`run1-${i}`)))
      expect(stored.handle.format).toBe("arrow")
      const loaded = await Effect.runPromise(
        io.load(stored.handle, { assetKey: "ml/images", consumerKey: "train" })
      )
      expect(loaded).toBeInstanceOf(Table)
      const table = loaded as Table
      expect(table.schema.fields[0]!.metadata.get("ARROW:extension:name")).toBe(FIXED_SHAPE_TENSOR)
      const back = tensorFromArrow(table)
      expect(back).toEqual(original)
      if (dtype !== "bool") expect(back.data.buffer).toBe(valuesOf(table).buffer)
    }
  })
})
