/**
 * @materia/io-managers: IO managers beyond memory. Each lives under its own subpath export
 * (`@materia/io-managers/fs`, `/s3`, `/duckdb`, `/tensor`) so that importing one never loads another's
 * dependencies; this entry re-exports only the shared suite's types.
 */
export type { IOManager, StoredValue, ValueHandle } from "@materia/core"
