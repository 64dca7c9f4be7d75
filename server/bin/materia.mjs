#!/usr/bin/env node
// The `materia` command: registers tsx so that projects (materia.config.ts) and our sources load
// as TypeScript without a build step, then runs the CLI.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")
