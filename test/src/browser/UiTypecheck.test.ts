/**
 * The web UI (server/ui) type-checks with its own tsconfig — DOM types, bundler resolution, JSX —
 * which the repository's Node-side `tsconfig.check.json` does not cover. `npm test` runs this file,
 * so a type error in the UI fails the suite like one anywhere else.
 */
import { spawnSync } from "node:child_process"
import { join, resolve } from "node:path"
import { expect, it } from "vitest"

const root = resolve(import.meta.dirname, "../../..")

it("server/ui type-checks (tsc -p server/ui)", () => {
  const run = spawnSync(
    join(root, "node_modules/.bin/tsc"),
    ["-p", join(root, "server/ui"), "--pretty", "false", "--listFiles"],
    { cwd: root, encoding: "utf8", timeout: 120_000 }
  )
  if (run.error !== undefined) throw run.error
  const diagnostics = run.stdout
    .split("\n")
    .filter((line) => /error TS\d+/.test(line))
    .join("\n")
  expect(diagnostics).toBe("")
  expect(run.status, run.stderr).toBe(0)
  // The UI's sources were part of the program (not an empty include).
  expect(run.stdout).toContain(join(root, "server/ui/src/main.tsx"))
}, 120_000)
