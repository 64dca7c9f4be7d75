/**
 * @materia/core/postgres: the PostgreSQL metadata store for production and several workers. A
 * separate entry so that `pg` loads only in programs that use it.
 */
export * from "./migrations.ts"
export * from "./PostgresClient.ts"
export * from "./PostgresFailure.ts"
export * from "./PostgresStorage.ts"
export * from "./PostgresUrl.ts"
export * from "./TestDatabase.ts"
