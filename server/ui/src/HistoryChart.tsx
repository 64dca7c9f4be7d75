/**
 * A small SVG chart of an asset's materializations, oldest to newest: row counts (metadata `rows`)
 * as bars and durations as a line, each on its own scale.
 */
import type { HistoryItem } from "./Api.ts"
import { formatDuration, formatTime } from "./Format.ts"

const WIDTH = 640
const HEIGHT = 140
const PAD = { top: 12, right: 56, bottom: 20, left: 56 }

/** The row count a materialization recorded, if any. */
export const rowsOf = (item: HistoryItem): number | null => {
  const rows = item.metadata.rows ?? item.metadata.row_count ?? item.metadata.numRows
  return typeof rows === "number" ? rows : null
}

export const HistoryChart = (props: { readonly items: ReadonlyArray<HistoryItem> }) => {
  const items = [...props.items].sort((a, b) => a.at - b.at)
  if (items.length === 0) return null
  const rows = items.map(rowsOf)
  const durations = items.map((i) => i.durationMillis)
  const maxRows = Math.max(1, ...rows.map((r) => r ?? 0))
  const maxDuration = Math.max(1, ...durations.map((d) => d ?? 0))
  const hasRows = rows.some((r) => r !== null)
  const hasDurations = durations.some((d) => d !== null)
  const innerW = WIDTH - PAD.left - PAD.right
  const innerH = HEIGHT - PAD.top - PAD.bottom
  const step = innerW / items.length
  const barWidth = Math.min(36, Math.max(2, step * 0.7))
  const x = (i: number) => PAD.left + step * i + step / 2
  const yRows = (r: number) => PAD.top + innerH - (r / maxRows) * innerH
  const yDuration = (d: number) => PAD.top + innerH - (d / maxDuration) * innerH
  const line = durations
    .map((d, i) => (d === null ? null : `${x(i).toFixed(1)},${yDuration(d).toFixed(1)}`))
    .filter((p) => p !== null)
    .join(" ")
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width="100%"
        role="img"
        aria-label="Row counts and durations of the materializations"
      >
        <line
          x1={PAD.left}
          x2={WIDTH - PAD.right}
          y1={PAD.top + innerH}
          y2={PAD.top + innerH}
          className="axis"
        />
        {hasRows ? (
          <>
            <text x={PAD.left - 6} y={PAD.top + 8} textAnchor="end" className="axis-label rows">
              {maxRows.toLocaleString()}
            </text>
            <text x={PAD.left - 6} y={PAD.top + innerH} textAnchor="end" className="axis-label rows">
              0
            </text>
          </>
        ) : null}
        {hasDurations ? (
          <text x={WIDTH - PAD.right + 6} y={PAD.top + 8} className="axis-label duration">
            {formatDuration(maxDuration)}
          </text>
        ) : null}
        {rows.map((r, i) =>
          r === null ? null : (
            <rect
              key={`r-${items[i]!.runId}-${items[i]!.at}`}
              className="bar"
              x={x(i) - barWidth / 2}
              width={barWidth}
              y={yRows(r)}
              height={PAD.top + innerH - yRows(r)}
            >
              <title>{`${formatTime(items[i]!.at)}: ${r.toLocaleString()} rows`}</title>
            </rect>
          )
        )}
        {hasDurations ? <polyline points={line} className="duration-line" /> : null}
        {durations.map((d, i) =>
          d === null ? null : (
            <circle
              key={`d-${items[i]!.runId}-${items[i]!.at}`}
              cx={x(i)}
              cy={yDuration(d)}
              r={3}
              className="duration-dot"
            >
              <title>{`${formatTime(items[i]!.at)}: ${formatDuration(d)}`}</title>
            </circle>
          )
        )}
        <text x={PAD.left} y={HEIGHT - 4} className="axis-label">
          {formatTime(items[0]!.at)}
        </text>
        <text x={WIDTH - PAD.right} y={HEIGHT - 4} textAnchor="end" className="axis-label">
          {formatTime(items[items.length - 1]!.at)}
        </text>
      </svg>
      <figcaption>
        {hasRows ? <span className="key-rows">■ rows</span> : <span>no row counts recorded</span>}{" "}
        {hasDurations ? <span className="key-duration">● duration</span> : null}
      </figcaption>
    </figure>
  )
}
