/**
 * `@materia/io-managers/duckdb`: the DuckDB IO manager (asset values as tables of a DuckDB file,
 * one view per asset) and SQL exploration of stored table values with DuckDB (views over Parquet
 * files and Parquet copies of Arrow values, confined to the storage and cache folders).
 */
export {
  type DuckDbIOManager,
  type DuckDbIOManagerOptions,
  makeDuckDbIOManager
} from "./DuckDbIOManager.ts"
export {
  cachedParquet,
  ExploreError,
  type ExploreFetched,
  type ExploreFile,
  type ExploreOptions,
  type Explorer,
  type ExploreTable,
  fetchedTable,
  type JsonSafe,
  openExplorer,
  type QueryOptions,
  type QueryResult
} from "./Explore.ts"
