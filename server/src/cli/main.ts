/**
 * The process entry point of `materia` (see bin/materia.mjs): wires the CLI to this process's
 * streams, arguments and signals, then exits with the command's code. The first Ctrl-C cancels a
 * run in progress (it ends `canceled`, exit 130); a second one exits at once.
 */

import { runCli } from "./Cli.ts"
import { ExitCode } from "./CliError.ts"
import { makeOutput } from "./Output.ts"

const controller = new AbortController()
process.on("SIGINT", () => {
  if (controller.signal.aborted) process.exit(ExitCode.Canceled)
  process.stderr.write("\ncanceling: waiting for running steps to stop (Ctrl-C again to exit now)\n")
  controller.abort()
})

const code = await runCli(process.argv.slice(2), {
  // `npx materia` in a workspace folder runs with the workspace as cwd; npm keeps the user's in INIT_CWD.
  cwd: (process.env.npm_command === "exec" ? process.env.INIT_CWD : undefined) ?? process.cwd(),
  output: makeOutput(process.stdout, process.stderr),
  signal: controller.signal
})
process.exit(code)
