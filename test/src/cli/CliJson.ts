/**
 * The JSON the `materia` commands print with `--json`, as far as the CLI acceptance tests read it:
 * decoding checks the shape, so a test fails on a changed wire format rather than on `undefined`.
 */
import * as Schema from "effect/Schema"

/** `materia materialize --json`. */
export const MaterializeOutput = Schema.Struct({
  runId: Schema.String,
  status: Schema.String,
  steps: Schema.Array(
    Schema.Struct({
      key: Schema.String,
      status: Schema.String,
      error: Schema.optionalKey(Schema.String),
      skipReason: Schema.optionalKey(Schema.String)
    })
  )
})

/** `materia plan --json`. */
export const PlanOutput = Schema.Struct({
  targets: Schema.Array(Schema.String),
  steps: Schema.Array(
    Schema.Struct({ key: Schema.String, reasons: Schema.Array(Schema.String), conditional: Schema.Boolean })
  )
})

/** `materia assets --json`. */
export const AssetsOutput = Schema.Struct({
  assets: Schema.Array(
    Schema.Struct({
      key: Schema.String,
      status: Schema.String,
      reasons: Schema.Array(Schema.String),
      latest: Schema.optionalKey(Schema.Struct({ runId: Schema.String, dataVersion: Schema.String }))
    })
  )
})

/** `materia runs --json`. */
export const RunsOutput = Schema.Array(Schema.Struct({ runId: Schema.String, status: Schema.String }))

/** `materia runs show <id> --json`. */
export const RunShowOutput = Schema.Struct({
  runId: Schema.String,
  events: Schema.Array(
    Schema.Struct({ _tag: Schema.String, runId: Schema.String, key: Schema.optionalKey(Schema.String) })
  )
})

/** The status of each asset by key, from `materia assets --json`. */
export const statusByKey = (output: typeof AssetsOutput.Type): Record<string, string> =>
  Object.fromEntries(output.assets.map((a) => [a.key, a.status]))

/** The step keys of a run or plan, in order. */
export const keysOf = (output: { readonly steps: ReadonlyArray<{ readonly key: string }> }): Array<string> =>
  output.steps.map((s) => s.key)
