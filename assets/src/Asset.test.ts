import { type IOManager, makeMemoryIOManager, type OutputContext } from "@materia/core"
import { describe, expect, it } from "vitest"
import { asset } from "./Asset.ts"
import { materialize } from "./Materialize.ts"
import { defineProject } from "./Project.ts"
import { memoryStore } from "./Store.ts"

describe("asset format option", () => {
  it("puts the table format in the spec and the code version, and refuses unknown formats", () => {
    const body = () => 1
    const plain = asset("orders", {}, body)
    const parquet = asset("orders", { format: "parquet" }, body)
    const arrow = asset("orders", { format: "arrow" }, body)
    expect(plain.spec.format).toBeUndefined()
    expect(parquet.spec.format).toBe("parquet")
    expect(new Set([plain, parquet, arrow].map((a) => a.spec.codeVersion)).size).toBe(3)
    expect(() => asset("orders", { format: "csv" as "parquet" }, body)).toThrow(
      'asset "orders": format must be "arrow" or "parquet", found "csv"'
    )
  })

  it("passes the asset's format to its IO manager's write, and nothing when it names none", async () => {
    const memory = makeMemoryIOManager("recording")
    const seen: Array<OutputContext> = []
    const recording: IOManager = {
      ...memory,
      write: (value, context) => {
        seen.push(context)
        return memory.write(value, context)
      }
    }
    const io = "recording"
    const project = defineProject({
      assets: [
        asset("a", { io, format: "parquet" }, () => 1),
        asset("b", { io, format: "arrow" }, () => 2),
        asset("c", { io }, () => 3)
      ],
      ioManagers: { recording }
    })
    await materialize(project, ["*"], { storage: memoryStore() })
    const formats = Object.fromEntries(seen.map((context) => [context.assetKey, context]))
    expect(formats.a!.format).toBe("parquet")
    expect(formats.b!.format).toBe("arrow")
    expect("format" in formats.c!).toBe(false)
  })
})
