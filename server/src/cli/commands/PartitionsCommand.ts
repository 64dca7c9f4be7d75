/**
 * `materia partitions`: the partitions of an asset a page at a time, and the keys of dynamic
 * partitions definitions.
 *
 *   materia partitions status <asset> [--after KEY] [--limit N] [--json]
 *   materia partitions keys <definition> [--json]
 *   materia partitions add <definition> <key...>
 *   materia partitions delete <definition> <key...>
 */
import { partitionStatusPage } from "@materia/assets"
import { dynamicNamesOf, dynamicPartitions } from "@materia/core"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions, positiveInt } from "../Command.ts"
import { json, table, timestamp } from "../Output.ts"
import { openProject, run } from "./Shared.ts"

export const partitionsCommand: Command = {
  name: "partitions",
  usage: `materia partitions status <asset> [--after KEY] [--limit N] [--json]
materia partitions keys <definition> [--json]
materia partitions add <definition> <key...>
materia partitions delete <definition> <key...>

  --after KEY     the page after this partition key (status pages print the next one)
  --limit N       partitions per page (default 100)
  --json          print as JSON
  --project FILE  the project module (default: the nearest materia.config.ts)

Dynamic partition keys are letters, digits, _, . and -; adding a key that exists does nothing.`,
  run: async (args, context) => {
    const { values, positionals } = parseOptions(
      "partitions",
      args,
      {
        after: { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
        project: { type: "string" }
      },
      true
    )
    const [verb, target, ...keys] = positionals
    const out = context.output.out
    if (verb === undefined || target === undefined)
      throw new UsageError({
        message:
          "materia partitions: expected status <asset>, keys <definition>, add <definition> <key...> or delete <definition> <key...>"
      })
    const { project, store } = await openProject(values.project, context)
    if (verb === "status") {
      const page = await run(
        partitionStatusPage(project, store, target, {
          after: values.after,
          limit: positiveInt("partitions", "limit", values.limit)
        })
      )
      if (values.json) out(json(page))
      else {
        out(`${page.key}: ${page.total} partitions, ${page.materialized} materialized, ${page.failed} failed`)
        for (const line of table(
          ["PARTITION", "STATUS", "MATERIALIZED", "RUN"],
          page.items.map((r) => [
            r.partition,
            r.status,
            r.at === null ? "-" : timestamp(r.at),
            r.runId ?? "-"
          ])
        ))
          out(`  ${line}`)
        if (page.next !== null) out(`Next page: materia partitions status ${page.key} --after ${page.next}`)
      }
      return ExitCode.Ok
    }
    const known = new Set(project.graph.specs.flatMap((spec) => dynamicNamesOf(spec.partitions)))
    if (!known.has(target))
      throw new UsageError({
        message: `materia partitions ${verb}: no asset of project "${project.name}" uses dynamic partitions "${target}"${known.size === 0 ? "" : `; known: ${[...known].sort().join(", ")}`}`
      })
    if (verb === "keys") {
      const list = await run(store.storage.dynamicPartitions(project.name, target))
      if (values.json) out(json(list))
      else
        out(
          list.length === 0
            ? `No keys in "${target}" yet: materia partitions add ${target} <key...>`
            : list.join("\n")
        )
      return ExitCode.Ok
    }
    if (verb !== "add" && verb !== "delete")
      throw new UsageError({
        message: `materia partitions: unknown subcommand "${verb}"; expected status, keys, add or delete`
      })
    if (keys.length === 0)
      throw new UsageError({ message: `materia partitions ${verb}: give at least one key` })
    const definition = dynamicPartitions(target)
    for (const key of keys)
      try {
        // Syntax only: any key that parses may be added.
        definition.parse(key, { dynamic: { [target]: [key] } })
      } catch (error) {
        throw new UsageError({
          message: `materia partitions ${verb}: ${error instanceof Error ? error.message : String(error)}`
        })
      }
    if (verb === "add") {
      const added = await run(store.storage.addDynamicPartitions(project.name, target, keys))
      out(
        `Added ${added} key(s) to "${target}"${added < keys.length ? ` (${keys.length - added} already there)` : ""}.`
      )
    } else {
      const removed = await run(store.storage.deleteDynamicPartitions(project.name, target, keys))
      out(
        `Deleted ${removed} key(s) from "${target}"${removed < keys.length ? ` (${keys.length - removed} were not there)` : ""}; their stored values stay recorded.`
      )
    }
    return ExitCode.Ok
  }
}
