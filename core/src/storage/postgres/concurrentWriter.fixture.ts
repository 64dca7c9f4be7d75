/**
 * A writer process for PostgresStorage's concurrency test: opens the store (racing the other writers
 * to migrate a fresh database) and appends many small runs in separate transactions, plus one log
 * line per run to a run shared by every writer, and one materialization of an asset they all share.
 * Usage: `node --import tsx concurrentWriter.fixture.ts <database url> <writer id> <runs>`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { RunEvent } from "../../events/RunEvent.ts"
import { makePostgresStorage } from "./PostgresStorage.ts"

// Kept in step with PostgresStorage.test.ts (importing this file would run it).
const PROJECT = "concurrent"
const SHARED_RUN = "shared-log"
const SHARED_ASSET = "shared"
const runIdOf = (writer: string, i: number): string => `${writer}-run-${i}`

const [url, writer, runsArg] = process.argv.slice(2)

const main = Effect.gen(function* () {
  if (url === undefined || writer === undefined) {
    return yield* Effect.die(
      new Error("usage: concurrentWriter.fixture.ts <database url> <writer id> <runs>")
    )
  }
  const runs = Number(runsArg ?? "100")
  const storage = yield* makePostgresStorage({ url, poolSize: 2 })
  let transactions = 0
  const append = (events: ReadonlyArray<RunEvent>) =>
    storage.append(PROJECT, events).pipe(Effect.tap(() => Effect.sync(() => transactions++)))

  for (let i = 0; i < runs; i++) {
    const runId = runIdOf(writer, i)
    yield* append([
      {
        _tag: "RunStarted",
        runId,
        at: i,
        project: PROJECT,
        targets: [writer],
        steps: [{ key: writer, reasons: ["missing"] }]
      }
    ])
    yield* append([
      { _tag: "StepStarted", runId, at: i, key: writer, attempt: 1 },
      {
        _tag: "Materialization",
        runId,
        at: i,
        key: writer,
        attempt: 1,
        dataVersion: `${writer}-${i}`,
        codeVersion: "v1",
        inputVersions: {},
        handle: { ioManager: "fs", location: `/store/${writer}/${i}`, format: "json" },
        metadata: { i },
        durationMillis: 1
      },
      {
        _tag: "Materialization",
        runId,
        at: i,
        key: SHARED_ASSET,
        attempt: 1,
        dataVersion: `${writer}-${i}`,
        codeVersion: "v1",
        inputVersions: {},
        handle: null,
        metadata: {},
        durationMillis: 1
      }
    ])
    yield* append([
      {
        _tag: "StepSucceeded",
        runId,
        at: i,
        key: writer,
        attempt: 1,
        durationMillis: 1,
        outcome: "materialized"
      },
      { _tag: "RunFinished", runId, at: i, status: "succeeded", durationMillis: 1 }
    ])
    yield* append([
      { _tag: "StepLog", runId: SHARED_RUN, at: i, key: writer, level: "info", message: `${writer}:${i}` }
    ])
  }
  yield* storage.close
  return transactions
})

Effect.runPromiseExit(main).then((exit) => {
  if (exit._tag === "Success") {
    process.stdout.write(`${JSON.stringify({ writer, transactions: exit.value })}\n`)
  } else {
    process.stderr.write(`writer ${String(writer)} failed: ${Cause.pretty(exit.cause)}\n`)
    process.exitCode = 1
  }
})
