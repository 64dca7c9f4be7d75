/** The `materia` CLI's entry to the example: `cd examples/ml-pipeline && npx materia plan`. */
import { project } from "./src/pipeline.ts"

export default project
