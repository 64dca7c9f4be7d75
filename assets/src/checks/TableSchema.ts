/**
 * Validation of Arrow tables against an effect Schema of one row (a `Schema.Struct`): column names,
 * column types and nullability, checked on a whole table or batch by batch over a stream. Use it to
 * reject a table output before it is committed, with a per-column diff such as
 * `amount: expected Float64, got Utf8`.
 *
 * The Schema → Arrow mapping (each field's decoded Type side; transformations are ignored):
 *
 * | row schema field                                   | Arrow column accepted                                   |
 * | -------------------------------------------------- | ------------------------------------------------------- |
 * | `Schema.Number`, `Schema.Finite`, number literals  | Float16/32/64, and every Int/Uint width (8–64 bits)      |
 * | integer refinement: `Schema.Int`, `isInt()`, `isInt32()` | Int8/16/32/64, Uint8/16/32/64 (not Float)          |
 * | `Schema.String`, string literals / template literals / string enums | Utf8, LargeUtf8, Utf8View                |
 * | `Schema.Boolean`, boolean literals                 | Bool                                                    |
 * | `Schema.BigInt`                                    | Int64, Uint64                                           |
 * | `Schema.Date`, `Schema.DateTimeUtc`                | Timestamp (any unit, any time zone), Date (day or ms)   |
 * | `Schema.NullOr(X)`, `UndefinedOr`, `NullishOr`     | X's column; nulls allowed (an all-null `Null` column too) |
 * | `Schema.optional(X)`, `Schema.optionalKey(X)`      | X's column; nulls allowed, and the column may be absent |
 *
 * Dictionary encoding is accepted for every type (`tableFromArrays` dictionary-encodes strings).
 * Nullability is judged from the actual null counts, never from `Field.nullable` (Arrow JS marks
 * every column built from JS arrays nullable); a batch's column whose values are all null is not
 * type-checked (Arrow JS types an all-null JS array Float64). Columns not in the row schema are
 * allowed unless `extraColumns: "error"`. Only the integer refinement is read from a field's checks; other
 * refinements (ranges, patterns) are not checked here: use the built-in checks. 64-bit integer,
 * Timestamp and Date columns read in Arrow JS as `bigint` and epoch-millisecond `number` values.
 */

import { nearest, type RecordBatchLike } from "@materia/core"
import type { Schema as ArrowSchema, DataType, RecordBatch } from "apache-arrow"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as Stream from "effect/Stream"
import { isInt, isRecordBatch, TypeId, valueType } from "./ArrowTypes.ts"

/** The logical kind of a column, derived from a row schema field. */
export type ColumnKind = "number" | "integer" | "string" | "boolean" | "bigint" | "timestamp"

/** One column a row schema expects. */
export interface ExpectedColumn {
  readonly name: string
  readonly kind: ColumnKind
  /** Nulls are allowed (`NullOr`, `UndefinedOr`, optional). */
  readonly nullable: boolean
  /** The column may be absent (`optional` / `optionalKey`). */
  readonly optional: boolean
}

/** The outcome of validating a table: `ok`, or the per-column differences, one line each. */
export type TableSchemaResult =
  | { readonly ok: true; readonly rows: number; readonly batches: number }
  | {
      readonly ok: false
      readonly diff: ReadonlyArray<string>
      readonly rows: number
      readonly batches: number
    }

/** Options of a table validation. */
export interface TableSchemaOptions {
  /** Columns that the row schema does not declare: allowed (default) or reported in the diff. */
  readonly extraColumns?: "allow" | "error" | undefined
}

/** Validates a table batch by batch: feed it every batch (and the schema of an empty one), then read the result. */
export interface TableValidator {
  /** Checks an Arrow schema alone, for a table or stream with no batches: names and types only. */
  readonly schema: (schema: ArrowSchema) => void
  /** Checks one record batch: names, types (not of a column whose values are all null) and null counts. */
  readonly batch: (batch: RecordBatch) => void
  /** The differences found so far; `ok` when there are none. */
  readonly result: () => TableSchemaResult
}

/** A row schema that is not a Struct, or has a field with no Arrow mapping: a definition-time error. */
export class InvalidRowSchema extends Data.TaggedError("InvalidRowSchema")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `invalid table row schema: ${this.problems.join("; ")}`
  }
}

/** A table that does not match its asset's row schema, with the per-column diff. */
export class TableSchemaMismatch extends Data.TaggedError("TableSchemaMismatch")<{
  readonly assetKey: string
  readonly diff: ReadonlyArray<string>
}> {
  override get message(): string {
    return `table of asset "${this.assetKey}" does not match its row schema:\n  ${this.diff.join("\n  ")}`
  }
}

/** What each kind accepts, as shown in diffs and by `rowSchemaToArrowDescription`. */
const kindDescription: Record<ColumnKind, string> = {
  number: "Float64",
  integer: "Int8/16/32/64",
  string: "Utf8 (dictionary accepted)",
  boolean: "Bool",
  bigint: "Int64",
  timestamp: "Timestamp or Date"
}

const INT_CHECK_ID = "effect/schema/isInt"
const TIMESTAMP_DECLARATIONS = new Set(["effect/schema/Date", "effect/schema/DateTimeUtc"])

/** The columns a row schema expects, in field order. Throws `InvalidRowSchema`. */
export const expectedColumns = (rowSchema: Schema.Constraint): ReadonlyArray<ExpectedColumn> => {
  const ast = SchemaAST.toType(rowSchema.ast)
  if (!SchemaAST.isObjects(ast) || ast.indexSignatures.length > 0) {
    throw new InvalidRowSchema({
      problems: [`expected a Schema.Struct of one row's fields, got ${describeAst(ast)}`]
    })
  }
  const problems: Array<string> = []
  const columns: Array<ExpectedColumn> = []
  for (const property of ast.propertySignatures) {
    if (typeof property.name !== "string") {
      problems.push(`field ${String(property.name)}: a column name must be a string`)
      continue
    }
    const optional = SchemaAST.isOptional(property.type)
    const field = fieldKind(SchemaAST.toType(property.type), 0)
    if (typeof field === "string") problems.push(`field "${property.name}": ${field}`)
    else
      columns.push({ name: property.name, kind: field.kind, nullable: field.nullable || optional, optional })
  }
  if (problems.length > 0) throw new InvalidRowSchema({ problems })
  return columns
}

/** What Arrow column each field of a row schema accepts, e.g. `{ amount: "Float64", region: "Utf8 (dictionary accepted)" }`. */
export const rowSchemaToArrowDescription = (
  rowSchema: Schema.Constraint
): Readonly<Record<string, string>> => {
  const description: Record<string, string> = {}
  for (const column of expectedColumns(rowSchema)) description[column.name] = describeExpected(column)
  return description
}

/** Starts an incremental validation against a row schema. Throws `InvalidRowSchema` for an unmappable schema. */
export const makeTableValidator = (
  rowSchema: Schema.Constraint,
  options: TableSchemaOptions = {}
): TableValidator => {
  const expected = expectedColumns(rowSchema)
  const expectedNames = new Set(expected.map((column) => column.name))
  // The last schema's type mismatches: batches of one table share their schema object.
  let lastSchema: ArrowSchema | undefined
  let lastMismatches: ReadonlyArray<readonly [column: string, message: string]> = []
  // First finding per column; a batch with another schema adds only what is new.
  const missing = new Map<string, string>()
  const wrongType = new Map<string, string>()
  const extra = new Map<string, string>()
  const nullCounts = new Map<string, number>()
  let rows = 0
  let batches = 0

  const inspect = (arrowSchema: ArrowSchema): ReadonlyArray<readonly [string, string]> => {
    if (arrowSchema === lastSchema) return lastMismatches
    const types = new Map<string, DataType>()
    for (const field of arrowSchema.fields) if (!types.has(field.name)) types.set(field.name, field.type)
    const mismatches: Array<readonly [string, string]> = []
    for (const column of expected) {
      const type = types.get(column.name)
      if (type === undefined) {
        if (!column.optional && !missing.has(column.name)) {
          const near = nearest(
            column.name,
            [...types.keys()].filter((name) => !expectedNames.has(name))
          )
          const hint = near.length > 0 ? ` (did you mean "${near[0]}"?)` : ""
          missing.set(
            column.name,
            `${column.name}: missing column, expected ${kindDescription[column.kind]}${hint}`
          )
        }
      } else if (!accepts(column, type)) {
        mismatches.push([
          column.name,
          `${column.name}: expected ${kindDescription[column.kind]}, got ${String(type)}`
        ])
      }
    }
    if (options.extraColumns === "error") {
      for (const [name, type] of types) {
        if (!expectedNames.has(name) && !extra.has(name)) {
          extra.set(name, `${name}: column not in the row schema (${String(type)})`)
        }
      }
    }
    lastSchema = arrowSchema
    lastMismatches = mismatches
    return mismatches
  }

  const schema = (arrowSchema: ArrowSchema): void => {
    for (const [column, message] of inspect(arrowSchema))
      if (!wrongType.has(column)) wrongType.set(column, message)
  }

  const batch = (recordBatch: RecordBatch): void => {
    batches++
    rows += recordBatch.numRows
    for (const [column, message] of inspect(recordBatch.schema)) {
      if (wrongType.has(column)) continue
      // Values that are all null carry no type: Arrow JS makes an all-null JS array Float64.
      const vector = recordBatch.getChild(column)
      if (vector !== null && vector.length > 0 && vector.nullCount === vector.length) continue
      wrongType.set(column, message)
    }
    for (const column of expected) {
      if (column.nullable) continue
      const vector = recordBatch.getChild(column.name)
      if (vector === null || vector.nullCount === 0) continue
      nullCounts.set(column.name, (nullCounts.get(column.name) ?? 0) + vector.nullCount)
    }
  }

  const result = (): TableSchemaResult => {
    const diff: Array<string> = []
    for (const column of expected) {
      const problem = missing.get(column.name) ?? wrongType.get(column.name)
      if (problem !== undefined) diff.push(problem)
      const nulls = nullCounts.get(column.name)
      if (nulls !== undefined) diff.push(`${column.name}: expected no nulls, found ${nulls}`)
    }
    diff.push(...extra.values())
    return diff.length === 0 ? { ok: true, rows, batches } : { ok: false, diff, rows, batches }
  }

  return { schema, batch, result }
}

/** Validates a whole table against a row schema: each batch, or its schema alone when it has none. */
export const validateTable = (
  rowSchema: Schema.Constraint,
  table: { readonly schema: ArrowSchema; readonly batches: ReadonlyArray<RecordBatch> },
  options: TableSchemaOptions = {}
): TableSchemaResult => {
  const validator = makeTableValidator(rowSchema, options)
  if (table.batches.length === 0) validator.schema(table.schema)
  for (const batch of table.batches) validator.batch(batch)
  return validator.result()
}

/**
 * Validates a stream of record batches (an IO manager's `loadBatches`, a check input's `batches`)
 * batch by batch, in bounded memory. Fails only with the stream's own error.
 */
export const validateStream = <E, R>(
  rowSchema: Schema.Constraint,
  batches: Stream.Stream<RecordBatchLike, E, R>,
  options: TableSchemaOptions = {}
): Effect.Effect<TableSchemaResult, E, R> =>
  Effect.suspend(() => {
    const validator = makeTableValidator(rowSchema, options)
    let foreign = 0
    return Stream.runForEach(batches, (batch) =>
      Effect.sync(() => {
        if (isRecordBatch(batch)) validator.batch(batch)
        else foreign++
      })
    ).pipe(
      Effect.map((): TableSchemaResult => {
        const result = validator.result()
        if (foreign === 0) return result
        const problem = `${foreign} batch${foreign === 1 ? " is" : "es are"} not Arrow record batches`
        return result.ok
          ? { ok: false, diff: [problem], rows: result.rows, batches: result.batches }
          : { ...result, diff: [...result.diff, problem] }
      })
    )
  })

const describeExpected = (column: ExpectedColumn): string =>
  kindDescription[column.kind] + (column.optional ? ", optional" : column.nullable ? ", nullable" : "")

const accepts = (column: ExpectedColumn, type: DataType): boolean => {
  // An all-null column has type Null: fine where nulls are allowed.
  if (type.typeId === TypeId.Null) return column.nullable
  const value = valueType(type)
  switch (column.kind) {
    case "number":
      return value.typeId === TypeId.Float || value.typeId === TypeId.Int
    case "integer":
      return value.typeId === TypeId.Int
    case "bigint":
      return isInt(value) && value.bitWidth === 64
    case "string":
      return (
        value.typeId === TypeId.Utf8 || value.typeId === TypeId.LargeUtf8 || value.typeId === TypeId.Utf8View
      )
    case "boolean":
      return value.typeId === TypeId.Bool
    case "timestamp":
      return value.typeId === TypeId.Timestamp || value.typeId === TypeId.Date
  }
}

interface FieldKind {
  readonly kind: ColumnKind
  readonly nullable: boolean
}

/** The kind of one field's (decoded) type, or why it has none. */
const fieldKind = (ast: SchemaAST.AST, depth: number): FieldKind | string => {
  if (depth > 32) return "the type is too deeply nested"
  switch (ast._tag) {
    case "Suspend":
      return fieldKind(SchemaAST.toType(ast.thunk()), depth + 1)
    case "Union": {
      let kind: ColumnKind | undefined
      let nullable = false
      for (const member of ast.types) {
        if (member._tag === "Null" || member._tag === "Undefined") {
          nullable = true
          continue
        }
        const inner = fieldKind(SchemaAST.toType(member), depth + 1)
        if (typeof inner === "string") return inner
        nullable ||= inner.nullable
        const merged = kind === undefined ? inner.kind : mergeKinds(kind, inner.kind)
        if (merged === undefined) {
          return `a union of ${kindDescription[kind!]} and ${kindDescription[inner.kind]} has no single Arrow type`
        }
        kind = merged
      }
      return kind === undefined ? "a column that is always null has no Arrow type" : { kind, nullable }
    }
    case "Number":
      return { kind: hasIntCheck(ast.checks) ? "integer" : "number", nullable: false }
    case "String":
    case "TemplateLiteral":
      return { kind: "string", nullable: false }
    case "Boolean":
      return { kind: "boolean", nullable: false }
    case "BigInt":
      return { kind: "bigint", nullable: false }
    case "Literal":
      return literalKind(ast.literal) ?? `literal ${String(ast.literal)} has no Arrow mapping`
    case "Enum": {
      const kinds = new Set(ast.enums.map(([, value]) => (typeof value === "string" ? "string" : "number")))
      const [only] = kinds
      return kinds.size === 1 && only !== undefined
        ? { kind: only, nullable: false }
        : "an enum mixing string and number values has no single Arrow type"
    }
    case "Declaration": {
      const id = representationId(ast.annotations?.representation)
      if (id !== undefined && TIMESTAMP_DECLARATIONS.has(id)) return { kind: "timestamp", nullable: false }
      return `${describeAst(ast)} has no Arrow mapping (${SUPPORTED})`
    }
    default:
      return `${describeAst(ast)} has no Arrow mapping (${SUPPORTED})`
  }
}

const SUPPORTED =
  "supported: Number, an integer refinement, String, Boolean, BigInt, Date, DateTimeUtc, literals, " +
  "and NullOr / optional of these"

const mergeKinds = (a: ColumnKind, b: ColumnKind): ColumnKind | undefined => {
  if (a === b) return a
  if ((a === "number" && b === "integer") || (a === "integer" && b === "number")) return "number"
  return undefined
}

const literalKind = (literal: SchemaAST.Literal["literal"]): FieldKind | undefined => {
  switch (typeof literal) {
    case "string":
      return { kind: "string", nullable: false }
    case "number":
      return { kind: "number", nullable: false }
    case "boolean":
      return { kind: "boolean", nullable: false }
    case "bigint":
      return { kind: "bigint", nullable: false }
    default:
      return undefined
  }
}

/** True when a check (or a check inside a group) is Effect's integer refinement. */
const hasIntCheck = (
  checks: SchemaAST.Checks | ReadonlyArray<SchemaAST.Check<unknown>> | undefined
): boolean =>
  checks?.some((check) =>
    check._tag === "FilterGroup"
      ? hasIntCheck(check.checks)
      : representationId(check.annotations?.representation) === INT_CHECK_ID
  ) ?? false

const representationId = (representation: unknown): string | undefined =>
  typeof representation === "object" &&
  representation !== null &&
  "id" in representation &&
  typeof representation.id === "string"
    ? representation.id
    : undefined

const describeAst = (ast: SchemaAST.AST): string => {
  const expected = ast.annotations?.expected
  switch (ast._tag) {
    case "Objects":
      return ast.indexSignatures.length > 0 ? "a Record" : "a nested Struct"
    case "Arrays":
      return "an Array or Tuple"
    case "Declaration":
      return typeof expected === "string" ? `a declared type (${expected})` : "a declared type"
    default:
      return ast._tag
  }
}
