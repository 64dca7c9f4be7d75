/**
 * An asset's partitions as one bar across all of them (oldest to newest, as the API lists them):
 * each slice colored by status — materialized, missing, failed — with its key on hover.
 */
import type { PartitionItem } from "./Api.ts"
import { formatTime } from "./Format.ts"
import { statusColor } from "./Status.tsx"

export const PartitionBar = (props: {
  readonly items: ReadonlyArray<PartitionItem>
  readonly total: number
  readonly onPick?: (partition: string) => void
}) => {
  const { items, total } = props
  if (total === 0) return null
  const counts = { materialized: 0, missing: 0, failed: 0 }
  for (const item of items) counts[item.status]++
  return (
    <div className="partitions">
      <svg
        className="partition-bar"
        viewBox={`0 0 ${items.length} 1`}
        preserveAspectRatio="none"
        width="100%"
        height="22"
        role="img"
        aria-label="Partition status"
      >
        {items.map((item, i) => (
          // biome-ignore lint/a11y/noStaticElementInteractions: a slice of a chart; the picker below is the accessible path
          <rect
            key={item.partition}
            x={i}
            y={0}
            width={1.02}
            height={1}
            fill={statusColor(item.status)}
            data-partition={item.partition}
            data-status={item.status}
            onClick={props.onPick === undefined ? undefined : () => props.onPick?.(item.partition)}
          >
            <title>{`${item.partition}: ${item.status}${item.at === null ? "" : ` (${formatTime(item.at)})`}`}</title>
          </rect>
        ))}
      </svg>
      <div className="partition-counts">
        {counts.materialized} materialized · {counts.missing} missing · {counts.failed} failed
        {items.length < total ? ` (first ${items.length} of ${total} shown)` : ` of ${total}`}
      </div>
    </div>
  )
}
