/**
 * The answers of `GET /assets` and `GET /lineage` made from a catalog, with the assets that run a
 * step now shown `running`. Used where the catalog is computed (the code server serializes once)
 * and by the server when steps are running.
 */
import type { AssetSummary, Lineage } from "../http/ApiSchemas.ts"
import type { CatalogAsset } from "./ProjectApi.ts"

const NOTHING_RUNS: ReadonlySet<string> = new Set()

/** The summary of an asset (`running` when `running` holds its key). */
export const summaryOf = (
  asset: CatalogAsset,
  running: ReadonlySet<string> = NOTHING_RUNS
): AssetSummary => ({
  key: asset.key,
  kind: asset.kind,
  group: asset.group,
  tags: asset.tags,
  pool: asset.pool,
  description: asset.description,
  partitions: asset.partitions,
  status: running.has(asset.key) ? "running" : asset.status,
  reasons: asset.reasons,
  upstream: asset.upstream,
  latest: asset.latest
})

/** The lineage graph: a node per asset, an edge from each upstream to its downstream. */
export const lineageOf = (
  assets: ReadonlyArray<CatalogAsset>,
  running: ReadonlySet<string> = NOTHING_RUNS
): Lineage => ({
  nodes: assets.map((a) => ({
    key: a.key,
    group: a.group,
    status: running.has(a.key) ? "running" : a.status
  })),
  edges: assets.flatMap((a) => a.downstream.map((to) => ({ from: a.key, to })))
})
