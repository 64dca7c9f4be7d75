/**
 * The `materia` CLI's entry to the example: `cd examples/ml-pipeline && npx materia plan`. Alerts go
 * to MATERIA_ALERT_URL when it is set, else to stderr.
 */
import { makePipeline } from "./src/pipeline.ts"

export default makePipeline({ alertUrl: process.env.MATERIA_ALERT_URL }).project
