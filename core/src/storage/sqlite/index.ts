/**
 * @materia/core/sqlite: the embedded SQLite metadata store. A separate entry so that better-sqlite3
 * (a native module) loads only in programs that use it.
 */
export * from "./migrations.ts"
export * from "./SqliteStorage.ts"
