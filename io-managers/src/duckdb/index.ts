/**
 * `@materia/io-managers/duckdb`: SQL exploration of stored table values with DuckDB (views over
 * Parquet files and Parquet copies of Arrow values, confined to the storage and cache folders).
 */
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
