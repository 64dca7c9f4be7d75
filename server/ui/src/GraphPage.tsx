/**
 * The asset graph: every asset colored by status (fresh, stale, missing, failed, running), laid out
 * left to right by elkjs in a worker, with zoom, pan, a search box and a selection filter. Only the
 * nodes inside the viewport are rendered, so 1,000 assets stay responsive; statuses follow the
 * instance's live event stream.
 */
import {
  Background,
  Controls,
  type Edge,
  Handle,
  MiniMap,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow
} from "@xyflow/react"
import { type FormEvent, memo, useEffect, useMemo, useRef, useState } from "react"
import { type AssetSummary, api } from "./Api.ts"
import { ErrorBanner } from "./ErrorView.tsx"
import {
  type GraphShape,
  layout,
  NODE_HEIGHT,
  NODE_WIDTH,
  type Positions,
  prepareLayout,
  shapeKey
} from "./Layout.ts"
import { endsStep, useInstanceEvents, useThrottled } from "./LiveEvents.ts"
import { useLoad } from "./Load.ts"
import { assetPath, navigate, useLocation } from "./Router.tsx"
import { evaluateSelection } from "./Selection.ts"
import { STATUS_COLORS, statusColor } from "./Status.tsx"

interface AssetNodeData extends Record<string, unknown> {
  readonly key: string
  readonly status: string
  readonly reasons: ReadonlyArray<string>
  readonly partitioned: boolean
}

type AssetNode = Node<AssetNodeData, "asset">

const AssetNodeView = memo((props: NodeProps<AssetNode>) => {
  const { key, status, reasons, partitioned } = props.data
  return (
    <div
      className={`graph-node status-${status}${props.selected ? " selected" : ""}`}
      style={{ borderLeftColor: statusColor(status) }}
      title={`${key}\n${status}${reasons.length > 0 ? `: ${reasons.join("; ")}` : ""}`}
      data-key={key}
      data-status={status}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <span className="graph-node-key">{key}</span>
      <span className="graph-node-status">
        {status}
        {partitioned ? " · partitioned" : ""}
      </span>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  )
})

const nodeTypes = { asset: AssetNodeView }

/**
 * Where each node's handles are (React Flow's 6 px handles centered on the left and right sides).
 * Given up front, React Flow need not render every node once to measure its handles: with
 * `onlyRenderVisibleElements` only the nodes in view are ever drawn.
 */
const HANDLES: NonNullable<AssetNode["handles"]> = [
  { type: "target", position: Position.Left, x: -3, y: NODE_HEIGHT / 2 - 3, width: 6, height: 6 },
  { type: "source", position: Position.Right, x: NODE_WIDTH - 3, y: NODE_HEIGHT / 2 - 3, width: 6, height: 6 }
]

/** Below this many nodes the whole graph is fitted to the screen; above, it opens readable at its start. */
const FIT_ALL_BELOW = 80
const READABLE_ZOOM = 0.8
const LEGEND = ["fresh", "stale", "missing", "failed", "running", "source", "skipped"] as const

const shapeOf = (assets: ReadonlyArray<AssetSummary>, keys: ReadonlySet<string>): GraphShape => ({
  keys: assets.filter((a) => keys.has(a.key)).map((a) => a.key),
  edges: assets.flatMap((a) =>
    keys.has(a.key) ? a.upstream.filter((u) => keys.has(u)).map((from) => ({ from, to: a.key })) : []
  )
})

/** Keys of the assets that a live event shows running (until their step ends). */
const useLiveRunning = (onChange: () => void): ReadonlySet<string> => {
  const [running, setRunning] = useState<ReadonlySet<string>>(new Set())
  const reloadSoon = useThrottled(onChange, 1000)
  useInstanceEvents({
    onRunEvent: (event) => {
      const key = event.key
      if (event._tag === "StepStarted" && key !== undefined) setRunning((s) => new Set(s).add(key))
      else if (key !== undefined && endsStep(event)) {
        setRunning((s) => {
          const next = new Set(s)
          next.delete(key)
          return next
        })
        reloadSoon()
      } else if (event._tag === "RunFinished") reloadSoon()
    },
    onProjectReloaded: reloadSoon
  })
  return running
}

const Graph = (props: {
  readonly assets: ReadonlyArray<AssetSummary>
  readonly visible: ReadonlySet<string>
  readonly running: ReadonlySet<string>
  readonly focus: string | null
}) => {
  const flow = useReactFlow()
  // The same shape object while the keys and edges stay the same (a status refresh brings a new
  // asset list): no new layout, and React Flow keeps its viewport.
  const lastShape = useRef<{ key: string; shape: GraphShape } | undefined>(undefined)
  const shape = useMemo(() => {
    const candidate = shapeOf(props.assets, props.visible)
    const key = shapeKey(candidate)
    if (lastShape.current?.key === key) return lastShape.current.shape
    lastShape.current = { key, shape: candidate }
    return candidate
  }, [props.assets, props.visible])
  const [positions, setPositions] = useState<
    { shape: GraphShape; positions: Positions; key: string } | undefined
  >()
  const [layoutError, setLayoutError] = useState<unknown>()
  const started = useRef(performance.now())

  useEffect(() => {
    let current = true
    started.current = performance.now()
    setLayoutError(undefined)
    layout(shape).then(
      (p) => {
        if (current) setPositions({ shape, positions: p, key: lastShape.current?.key ?? "" })
      },
      (error: unknown) => {
        if (current) setLayoutError(error)
      }
    )
    return () => {
      current = false
    }
  }, [shape])

  const byKey = useMemo(() => new Map(props.assets.map((a) => [a.key, a])), [props.assets])
  const laidOut = positions?.shape === shape ? positions.positions : undefined

  const nodes = useMemo((): Array<AssetNode> => {
    if (laidOut === undefined) return []
    return shape.keys.map((key) => {
      const asset = byKey.get(key)
      const status = props.running.has(key) ? "running" : (asset?.status ?? "missing")
      return {
        id: key,
        type: "asset",
        position: laidOut.get(key) ?? { x: 0, y: 0 },
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        handles: HANDLES,
        selected: key === props.focus,
        data: { key, status, reasons: asset?.reasons ?? [], partitioned: asset?.partitions != null },
        sourcePosition: Position.Right,
        targetPosition: Position.Left
      }
    })
  }, [laidOut, shape, byKey, props.running, props.focus])

  const edges = useMemo(
    (): Array<Edge> =>
      laidOut === undefined
        ? []
        : shape.edges.map((e) => ({
            id: `${e.from}->${e.to}`,
            source: e.from,
            target: e.to,
            focusable: false,
            selectable: false,
            animated: props.running.has(e.to)
          })),
    [laidOut, shape, props.running]
  )

  // Opening view: all of a small graph; the start of a large one at a readable zoom. Given to
  // React Flow when it mounts (after the layout), so the first frame is already the right one.
  const opening = useMemo(() => {
    if (laidOut === undefined || shape.keys.length < FIT_ALL_BELOW) return undefined
    let minX = Number.POSITIVE_INFINITY
    let minY = Number.POSITIVE_INFINITY
    for (const p of laidOut.values()) {
      minX = Math.min(minX, p.x)
      minY = Math.min(minY, p.y)
    }
    return { x: 24 - minX * READABLE_ZOOM, y: 24 - minY * READABLE_ZOOM, zoom: READABLE_ZOOM }
  }, [laidOut, shape])

  // The minimap (a rectangle per node) comes in the frame after the nodes are drawn.
  const [miniMap, setMiniMap] = useState(false)
  useEffect(() => {
    if (laidOut === undefined) return
    const frame = requestAnimationFrame(() => requestAnimationFrame(() => setMiniMap(true)))
    return () => cancelAnimationFrame(frame)
  }, [laidOut])

  useEffect(() => {
    if (laidOut === undefined) return
    const millis = performance.now() - started.current
    document.documentElement.dataset.layoutMillis = millis.toFixed(0)
    performance.mark("materia:graph-laid-out", { detail: { nodes: shape.keys.length } })
  }, [laidOut, shape])

  // Center the searched asset.
  useEffect(() => {
    if (props.focus === null || laidOut === undefined) return
    const p = laidOut.get(props.focus)
    if (p !== undefined)
      void flow.setCenter(p.x + NODE_WIDTH / 2, p.y + NODE_HEIGHT / 2, { zoom: 1.1, duration: 300 })
  }, [props.focus, laidOut, flow])

  if (layoutError !== undefined) return <ErrorBanner error={layoutError} />
  return (
    <div className="graph" data-state={laidOut === undefined ? "layout" : "ready"} data-nodes={nodes.length}>
      {laidOut === undefined || positions === undefined ? (
        <div className="graph-loading">Laying out {shape.keys.length} assets…</div>
      ) : (
        <div className="graph-canvas">
          <ReactFlow
            key={positions.key}
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onlyRenderVisibleElements
            nodesDraggable={false}
            nodesConnectable={false}
            edgesFocusable={false}
            elementsSelectable={false}
            minZoom={0.05}
            maxZoom={2}
            proOptions={{ hideAttribution: true }}
            onNodeClick={(_, node) => navigate(assetPath(node.id))}
            {...(opening === undefined
              ? { fitView: true, fitViewOptions: { padding: 0.15, maxZoom: 1.2 } }
              : { defaultViewport: opening })}
          >
            <Background gap={24} />
            <Controls showInteractive={false} />
            {miniMap ? (
              <MiniMap pannable zoomable nodeColor={(n) => statusColor(String(n.data.status))} />
            ) : null}
          </ReactFlow>
        </div>
      )}
    </div>
  )
}

export const GraphPage = () => {
  const location = useLocation()
  const filter = location.search.get("select") ?? ""
  const [draft, setDraft] = useState(filter)
  const [search, setSearch] = useState("")
  const [focus, setFocus] = useState<string | null>(null)
  const [searchNote, setSearchNote] = useState<string | null>(null)
  useEffect(prepareLayout, [])
  const assets = useLoad(() => api.assets(), [])
  const running = useLiveRunning(assets.reload)

  useEffect(() => setDraft(filter), [filter])

  const list = assets.value?.assets
  const selection = useMemo(
    () => (list === undefined ? undefined : evaluateSelection(filter, list)),
    [filter, list]
  )
  const visible = useMemo(
    () => (selection?.ok === true ? selection.keys : new Set(list?.map((a) => a.key) ?? [])),
    [selection, list]
  )
  const counts = useMemo(() => {
    const out: Record<string, number> = {}
    for (const a of list ?? []) {
      const status = running.has(a.key) ? "running" : a.status
      if (visible.has(a.key)) out[status] = (out[status] ?? 0) + 1
    }
    return out
  }, [list, visible, running])

  // Suggestions for the search box: the first keys containing what is typed (none before typing).
  const suggestions = useMemo(() => {
    const text = search.trim().toLowerCase()
    if (text === "" || list === undefined) return []
    const found: Array<string> = []
    for (const a of list) {
      if (a.key.toLowerCase().includes(text)) found.push(a.key)
      if (found.length === 50) break
    }
    return found
  }, [search, list])

  const applyFilter = (event: FormEvent) => {
    event.preventDefault()
    const text = draft.trim()
    navigate(text === "" ? "/" : `/?select=${encodeURIComponent(text)}`)
  }

  const find = (event: FormEvent) => {
    event.preventDefault()
    const text = search.trim().toLowerCase()
    if (text === "" || list === undefined) return
    const shown = list.filter((a) => visible.has(a.key))
    const exact = shown.find((a) => a.key.toLowerCase() === text)
    const matches = exact === undefined ? shown.filter((a) => a.key.toLowerCase().includes(text)) : [exact]
    const first = matches[0]
    if (first === undefined) {
      setFocus(null)
      setSearchNote(`no asset shown matches "${search.trim()}"`)
      return
    }
    setFocus(first.key)
    setSearchNote(matches.length > 1 ? `${matches.length} matches; showing ${first.key}` : null)
  }

  return (
    <div className="graph-page">
      <div className="toolbar">
        <form onSubmit={find} className="toolbar-group">
          <input
            type="search"
            placeholder="Find an asset"
            aria-label="Find an asset"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            list="asset-keys"
          />
          <datalist id="asset-keys">
            {suggestions.map((key) => (
              <option key={key} value={key} />
            ))}
          </datalist>
          <button type="submit">Find</button>
        </form>
        <form onSubmit={applyFilter} className="toolbar-group">
          <input
            className="selection-input"
            placeholder="Selection: +model, group:ml, tag:team=growth, a,b"
            aria-label="Selection filter"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit">Filter</button>
          {filter === "" ? null : (
            <button type="button" onClick={() => navigate("/")}>
              Clear
            </button>
          )}
        </form>
        <button
          type="button"
          className="primary"
          onClick={() => navigate(`/launch?select=${encodeURIComponent(filter === "" ? "*" : filter)}`)}
        >
          Materialize {filter === "" ? "all" : "selection"}…
        </button>
        <div className="legend">
          {LEGEND.map((s) => (
            <span key={s} className="legend-item">
              <i style={{ background: STATUS_COLORS[s] }} />
              {s} {counts[s] ?? 0}
            </span>
          ))}
        </div>
      </div>
      {searchNote === null ? null : <div className="note">{searchNote}</div>}
      {selection?.ok === false ? <ErrorBanner error={new Error(`selection: ${selection.error}`)} /> : null}
      <ErrorBanner error={assets.error} onRetry={assets.reload} />
      {list === undefined ? (
        assets.error === undefined ? (
          <div className="graph-loading">Loading assets…</div>
        ) : null
      ) : list.length === 0 ? (
        <div className="empty">This project has no assets yet.</div>
      ) : (
        <ReactFlowProvider>
          <Graph assets={list} visible={visible} running={running} focus={focus} />
        </ReactFlowProvider>
      )}
    </div>
  )
}
