/**
 * One asset: its definition and status with reasons, upstream and downstream, the latest metadata and
 * schema, check results, materialization history (with a chart of rows and durations), partition
 * status, the first rows of its value (through the SQL API) and a Materialize form.
 */
import { useState } from "react"
import { type AssetDetail, api, type Json, type PartitionItem } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import { formatDuration, formatTime, formatValue } from "./Format.ts"
import { HistoryChart, rowsOf } from "./HistoryChart.tsx"
import { LaunchForm } from "./LaunchForm.tsx"
import { endsStep, useInstanceEvents, useThrottled } from "./LiveEvents.ts"
import { useLoad } from "./Load.ts"
import { PartitionBar } from "./PartitionBar.tsx"
import { assetPath, Link, runPath } from "./Router.tsx"
import { StatusBadge } from "./Status.tsx"

/** Partitions fetched for the bar (pages of 500). */
const PARTITIONS_SHOWN = 2000

const loadPartitions = async (
  key: string
): Promise<{ items: ReadonlyArray<PartitionItem>; total: number }> => {
  const items: Array<PartitionItem> = []
  let after: string | undefined
  let total = 0
  for (;;) {
    const page = await api.partitions(key, 500, after)
    items.push(...page.items)
    total = page.total
    if (page.next === null || items.length >= PARTITIONS_SHOWN) break
    after = page.next
  }
  return { items, total }
}

/** A SQL identifier in double quotes (a key such as `sales/orders` is a view name). */
const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`

const KeyList = (props: { readonly keys: ReadonlyArray<string> }) =>
  props.keys.length === 0 ? (
    <span className="muted">none</span>
  ) : (
    <span className="key-list">
      {props.keys.map((k) => (
        <Link key={k} to={assetPath(k)}>
          {k}
        </Link>
      ))}
    </span>
  )

const MetadataTable = (props: { readonly metadata: Readonly<Record<string, Json>> }) => {
  const entries = Object.entries(props.metadata).filter(([name]) => name !== "schema")
  if (entries.length === 0) return <p className="muted">No metadata.</p>
  return (
    <table className="kv">
      <tbody>
        {entries.map(([name, value]) => (
          <tr key={name}>
            <th>{name}</th>
            <td>
              <code>{formatValue(value)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

const SchemaTable = (props: { readonly schema: Json | undefined }) => {
  const schema = props.schema
  if (schema === undefined || schema === null || typeof schema !== "object" || Array.isArray(schema))
    return null
  return (
    <table className="kv">
      <thead>
        <tr>
          <th>column</th>
          <th>type</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(schema as Record<string, Json>).map(([name, type]) => (
          <tr key={name}>
            <th>{name}</th>
            <td>
              <code>{formatValue(type)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

const FirstRows = (props: {
  readonly assetKey: string
  readonly version: string | undefined
  readonly table: boolean
}) => {
  const [asked, setAsked] = useState(false)
  const wanted = props.version !== undefined && (props.table || asked)
  const rows = useLoad(
    () =>
      wanted
        ? api.query(`SELECT * FROM ${quoteIdentifier(props.assetKey)} LIMIT 20`, 20)
        : Promise.resolve(undefined),
    [props.assetKey, props.version, wanted]
  )
  if (props.version === undefined) return <p className="muted">Not materialized yet.</p>
  if (!wanted)
    return (
      <p className="muted">
        No table schema was recorded for this value (SQL reads table assets).{" "}
        <button type="button" onClick={() => setAsked(true)}>
          Query anyway
        </button>
      </p>
    )
  if (rows.error !== undefined) return <ErrorBanner error={rows.error} onRetry={rows.reload} />
  const result = rows.value
  if (result === undefined) return <p className="muted">Loading rows…</p>
  return (
    <div className="table-scroll">
      <table className="rows" data-testid="first-rows">
        <thead>
          <tr>
            {result.columns.map((c) => (
              <th key={c.name} title={c.type}>
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {result.rows.map((row, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows of a query have no identity
            <tr key={i}>
              {row.map((cell, j) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: cells of a row are positional
                <td key={j}>{formatValue(cell)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {result.rows.length === 0 ? <p className="muted">No rows.</p> : null}
      {result.truncated ? <p className="muted">First {result.rows.length} rows.</p> : null}
    </div>
  )
}

const Detail = (props: { readonly asset: AssetDetail; readonly reload: () => void }) => {
  const { asset } = props
  const history = useLoad(() => api.history(asset.key, 50), [asset.key, asset.latest?.at])
  const partitions = useLoad(
    () => (asset.partitions === null ? Promise.resolve({ items: [], total: 0 }) : loadPartitions(asset.key)),
    [asset.key, asset.partitions === null, asset.latest?.at]
  )
  const [partition, setPartition] = useState("")
  const items = history.value?.items ?? []
  const latestMetadata = asset.latestMetadata

  return (
    <div className="page asset-page">
      <header className="page-header">
        <h1>
          <span className="muted">{asset.kind === "source" ? "source " : "asset "}</span>
          {asset.key}
        </h1>
        <StatusBadge status={asset.status} />
        <button type="button" onClick={props.reload}>
          Refresh
        </button>
      </header>
      {asset.description === null ? null : <p className="description">{asset.description}</p>}
      {asset.reasons.length > 0 ? (
        <ul className="reasons">
          {asset.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : null}

      <div className="columns">
        <section>
          <h2>Definition</h2>
          <table className="kv">
            <tbody>
              <tr>
                <th>group</th>
                <td>{asset.group}</td>
              </tr>
              <tr>
                <th>pool</th>
                <td>{asset.pool}</td>
              </tr>
              <tr>
                <th>code version</th>
                <td>
                  <code>{asset.codeVersion}</code>
                </td>
              </tr>
              <tr>
                <th>tags</th>
                <td>
                  {Object.keys(asset.tags).length === 0
                    ? "none"
                    : Object.entries(asset.tags).map(([k, v]) => (
                        <span key={k} className="tag">
                          {v === "" ? k : `${k}=${v}`}
                        </span>
                      ))}
                </td>
              </tr>
              <tr>
                <th>partitions</th>
                <td>
                  {asset.partitions === null
                    ? "none"
                    : `${asset.partitions.kind}: ${asset.partitions.description}`}
                </td>
              </tr>
              <tr>
                <th>upstream</th>
                <td>
                  <KeyList keys={asset.upstream} />
                </td>
              </tr>
              <tr>
                <th>downstream</th>
                <td>
                  <KeyList keys={asset.downstream} />
                </td>
              </tr>
              <tr>
                <th>latest</th>
                <td>
                  {asset.latest === null ? (
                    "never materialized"
                  ) : (
                    <>
                      {formatTime(asset.latest.at)} by run{" "}
                      <Link to={runPath(asset.latest.runId)}>{asset.latest.runId}</Link> · data{" "}
                      <code>{asset.latest.dataVersion.slice(0, 12)}</code>
                    </>
                  )}
                </td>
              </tr>
            </tbody>
          </table>
        </section>
        <section>
          <h2>Materialize</h2>
          {asset.kind === "source" ? (
            <p className="muted">A source asset is observed, not computed.</p>
          ) : (
            <LaunchForm
              select={asset.key}
              fixedSelect
              partitionKeys={
                asset.partitions === null
                  ? undefined
                  : (partitions.value?.items.map((p) => p.partition) ?? [])
              }
              partition={partition}
              onPartitionChange={setPartition}
              submitLabel="Materialize"
            />
          )}
        </section>
      </div>

      {asset.partitions === null ? null : (
        <section>
          <h2>Partitions</h2>
          <ErrorBanner error={partitions.error} onRetry={partitions.reload} />
          {partitions.value === undefined ? null : (
            <PartitionBar
              items={partitions.value.items}
              total={partitions.value.total}
              onPick={setPartition}
            />
          )}
        </section>
      )}

      <section>
        <h2>Latest metadata</h2>
        {latestMetadata === null ? (
          <p className="muted">None recorded.</p>
        ) : (
          <MetadataTable metadata={latestMetadata} />
        )}
        {latestMetadata?.schema === undefined ? null : (
          <>
            <h3>Schema</h3>
            <SchemaTable schema={latestMetadata.schema} />
          </>
        )}
      </section>

      <section>
        <h2>First rows</h2>
        <FirstRows
          assetKey={asset.key}
          version={asset.latest?.dataVersion}
          table={
            latestMetadata?.schema !== undefined ||
            typeof latestMetadata?.rows === "number" ||
            items.some((h) => h.metadata.schema !== undefined || rowsOf(h) !== null)
          }
        />
      </section>

      <section>
        <h2>Checks</h2>
        {asset.checks.length === 0 ? (
          <p className="muted">No check results.</p>
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th>check</th>
                <th>result</th>
                <th>severity</th>
                <th>message</th>
                <th>at</th>
              </tr>
            </thead>
            <tbody>
              {asset.checks.map((c) => (
                <tr key={`${c.check}-${c.runId}`}>
                  <td>{c.check}</td>
                  <td>
                    <StatusBadge status={c.passed ? "succeeded" : "failed"} />
                  </td>
                  <td>{c.severity}</td>
                  <td>{c.message ?? ""}</td>
                  <td>
                    <Link to={runPath(c.runId)}>{formatTime(c.at)}</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section>
        <h2>Materializations</h2>
        <ErrorBanner error={history.error} onRetry={history.reload} />
        <HistoryChart items={items} />
        {items.length === 0 ? (
          history.value === undefined ? null : (
            <p className="muted">None yet.</p>
          )
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th>at</th>
                <th>run</th>
                <th>rows</th>
                <th>duration</th>
                <th>data version</th>
                <th>code version</th>
              </tr>
            </thead>
            <tbody>
              {items.map((h) => (
                <tr key={`${h.runId}-${h.at}`}>
                  <td>{formatTime(h.at)}</td>
                  <td>
                    <Link to={runPath(h.runId)}>{h.runId}</Link>
                  </td>
                  <td>{rowsOf(h)?.toLocaleString() ?? ""}</td>
                  <td>{formatDuration(h.durationMillis)}</td>
                  <td>
                    <code>{h.dataVersion.slice(0, 12)}</code>
                  </td>
                  <td>
                    <code>{h.codeVersion.slice(0, 12)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  )
}

export const AssetPage = (props: { readonly assetKey: string }) => {
  const asset = useLoad(() => api.asset(props.assetKey), [props.assetKey])
  const reloadSoon = useThrottled(asset.reload, 300)
  useInstanceEvents({
    onRunEvent: (event) => {
      if (event.key === props.assetKey && (endsStep(event) || event._tag === "StepStarted")) reloadSoon()
    },
    onProjectReloaded: reloadSoon
  })
  if (asset.value?.asset?.key !== props.assetKey)
    return (
      <div className="page">
        <h1>{props.assetKey}</h1>
        {asset.error === undefined ? <p className="muted">Loading…</p> : null}
        <ErrorBanner error={asset.error} onRetry={asset.reload} />
      </div>
    )
  return (
    <>
      {asset.error === undefined ? null : <ErrorBanner error={asset.error} onRetry={asset.reload} />}
      <Detail asset={asset.value!.asset} reload={asset.reload} />
    </>
  )
}
