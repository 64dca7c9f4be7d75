/**
 * Definition-time errors of an asset graph. Each names the keys involved and how to fix them; they
 * are thrown by `AssetGraph.make` (and so by `defineProject`) before anything runs.
 */
import * as Data from "effect/Data"

/** Two definitions share a key. */
export class DuplicateAssetKey extends Data.TaggedError("DuplicateAssetKey")<{ readonly key: string }> {
  override get message(): string {
    return `duplicate asset key "${this.key}": two definitions use it; give each asset its own key`
  }
}

/** An asset depends on a key that no definition has. */
export class UnknownDependency extends Data.TaggedError("UnknownDependency")<{
  readonly key: string
  readonly dependency: string
  readonly suggestion: string
}> {
  override get message(): string {
    return `unknown dependency "${this.dependency}" of asset "${this.key}"${this.suggestion}; add an asset with that key to the project or fix the name`
  }
}

/** The dependencies form a cycle; `path` starts and ends with the same key. */
export class DependencyCycle extends Data.TaggedError("DependencyCycle")<{
  readonly path: ReadonlyArray<string>
}> {
  override get message(): string {
    return `dependency cycle: ${this.path.join(" → ")}; an asset cannot depend on itself, directly or through others`
  }
}
