/**
 * `@materia/io-managers/fs`: the local-disk IO manager (Arrow IPC, bytes and JSON in immutable,
 * attempt-scoped folders with a manifest and a sha256 content hash).
 */
export { type FsIOManagerOptions, makeFsIOManager } from "./FsIOManager.ts"
