/**
 * Launching a materialization: a selection, partitions (a key, a range `a...b`, or a list `a,b`),
 * `force`, and run configuration as a JSON object. On success the run's page opens; an error from
 * the API (a selection that matches nothing names the nearest keys) is shown in the form.
 */
import { type FormEvent, useState } from "react"
import { api, type Json } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import { navigate, runPath } from "./Router.tsx"

const parseConfig = (text: string): Record<string, Json> | undefined => {
  if (text.trim() === "") return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new Error(`run config is not valid JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new Error('run config must be a JSON object, e.g. {"model": {"epochs": 3}}')
  return value as Record<string, Json>
}

const partitionHint = (keys: ReadonlyArray<string> | undefined): string => {
  const first = keys?.[0]
  const last = keys?.[keys.length - 1]
  return first === undefined || last === undefined || first === last
    ? "empty: every stale partition; or a key, a range from...to, or a list a,b"
    : `empty: every stale partition; or ${first}, ${first}...${last}, or a list`
}

export const LaunchForm = (props: {
  readonly select: string
  /** Whether the selection can be edited (the launch page) or is the asset itself (an asset page). */
  readonly fixedSelect?: boolean
  /** Partition keys to pick from; undefined when the target is not partitioned. */
  readonly partitionKeys?: ReadonlyArray<string> | undefined
  readonly partition?: string
  readonly onPartitionChange?: (partition: string) => void
  readonly submitLabel?: string
}) => {
  const [select, setSelect] = useState(props.select)
  const [ownPartition, setOwnPartition] = useState("")
  const partitions = props.partition ?? ownPartition
  const setPartitions = props.onPartitionChange ?? setOwnPartition
  const [force, setForce] = useState(false)
  const [config, setConfig] = useState("")
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const [note, setNote] = useState<string | null>(null)

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setError(undefined)
    setNote(null)
    try {
      const parsed = parseConfig(config)
      setBusy(true)
      const { runId, nothingToDo } = await api.launch({
        select: props.fixedSelect === true ? props.select : select.trim(),
        ...(partitions.trim() === "" ? {} : { partitions: partitions.trim() }),
        ...(force ? { force: true } : {}),
        ...(parsed === undefined ? {} : { config: parsed })
      })
      if (nothingToDo === true)
        setNote("Nothing to do: everything selected is fresh. Check Force to recompute it anyway.")
      else navigate(runPath(runId))
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="launch-form" onSubmit={submit}>
      {props.fixedSelect === true ? null : (
        <label>
          Selection
          <input
            name="select"
            value={select}
            onChange={(e) => setSelect(e.target.value)}
            placeholder="+model, group:ml, tag:team=growth, a,b, *"
            required
          />
        </label>
      )}
      {props.fixedSelect === true && props.partitionKeys === undefined ? null : (
        <label>
          Partitions
          <input
            name="partitions"
            value={partitions}
            onChange={(e) => setPartitions(e.target.value)}
            placeholder={partitionHint(props.partitionKeys)}
            list="partition-keys"
          />
          {props.partitionKeys === undefined ? null : (
            <datalist id="partition-keys">
              {props.partitionKeys.map((p) => (
                <option key={p} value={p} />
              ))}
            </datalist>
          )}
        </label>
      )}
      <label>
        Run config (JSON object, optional)
        <textarea
          name="config"
          value={config}
          onChange={(e) => setConfig(e.target.value)}
          rows={3}
          placeholder='{"model": {"epochs": 3}}'
          spellCheck={false}
        />
      </label>
      <label className="inline">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Force
        (recompute even when fresh)
      </label>
      <div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Launching…" : (props.submitLabel ?? "Launch")}
        </button>
      </div>
      {note === null ? null : (
        <div className="note" role="status">
          {note}
        </div>
      )}
      <ErrorBanner error={error} />
    </form>
  )
}
