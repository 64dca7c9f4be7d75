/**
 * `materia wipe --select S [--yes]`: forgets the materializations and failures of the selected
 * assets, so that they are planned again as missing. Asks for confirmation on a terminal;
 * elsewhere `--yes` is required.
 */
import { createInterface } from "node:readline/promises"
import { ExitCode, UsageError } from "../CliError.ts"
import { type Command, parseOptions } from "../Command.ts"
import { openProject, run } from "./Shared.ts"

const confirm = async (question: string): Promise<boolean> => {
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim())
  } finally {
    rl.close()
  }
}

export const wipeCommand: Command = {
  name: "wipe",
  usage: `materia wipe --select S [--yes] [--project FILE]

  --select S      the assets to forget (selection syntax)
  --yes           do not ask for confirmation (required when not on a terminal)
  --project FILE  the project module (default: the nearest materia.config.ts)`,
  run: async (args, context) => {
    const { values } = parseOptions("wipe", args, {
      select: { type: "string" },
      yes: { type: "boolean" },
      project: { type: "string" }
    })
    if (values.select === undefined)
      throw new UsageError({ message: "materia wipe: --select S is required (e.g. --select model, or '*')" })
    const { project, store, selected } = await openProject(values.project, context, values.select)
    const keys = [...selected!.selected].map((i) => project.graph.keys[i]!).sort()
    if (!values.yes) {
      if (!process.stdin.isTTY)
        throw new UsageError({ message: "materia wipe: not on a terminal; pass --yes to confirm" })
      const ok = await confirm(
        `Forget the materializations of ${keys.length} asset(s): ${keys.join(", ")}? [y/N] `
      )
      if (!ok) {
        context.output.out("Nothing wiped.")
        return ExitCode.Ok
      }
    }
    const removed = await run(store.storage.wipe(project.name, keys))
    context.output.out(
      `Wiped ${removed} of ${keys.length} selected asset(s); they will be planned as missing.`
    )
    return ExitCode.Ok
  }
}
