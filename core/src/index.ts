/**
 * @materia/core: the engine. Asset graph, selection, the pure planner, the execution state and its
 * Effect executor, run events, and the Storage and IOManager interfaces with in-memory
 * implementations. The DSL users write lives in @materia/assets.
 */

export * from "./check/Check.ts"
export * from "./check/RunChecks.ts"
export * from "./events/RunEvent.ts"
export * from "./events/RunView.ts"
export * from "./execute/ExecutionState.ts"
export * from "./execute/Executor.ts"
export * from "./execute/OutputCapture.ts"
export * from "./execute/RetryPolicy.ts"
export * from "./execute/Skip.ts"
export * from "./execute/StepContext.ts"
export * from "./execute/StepErrors.ts"
export * from "./graph/AssetGraph.ts"
export * from "./graph/AssetKey.ts"
export * from "./graph/AssetSpec.ts"
export * from "./graph/GraphErrors.ts"
export * from "./graph/Selection.ts"
export * from "./graph/Suggest.ts"
export * from "./io/DataVersion.ts"
export * from "./io/IOManager.ts"
export * from "./io/LazyIOManager.ts"
export * from "./io/MemoryIOManager.ts"
export * from "./partition/PartitionsDefinition.ts"
export * from "./plan/Planner.ts"
export * from "./plan/Snapshot.ts"
export * from "./report/ConsoleReporter.ts"
export * from "./storage/DeadRuns.ts"
export * from "./storage/MemoryStorage.ts"
export * from "./storage/Storage.ts"
