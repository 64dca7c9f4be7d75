/**
 * Automatic code versions: a hash of an asset's body source and its definition. It changes when
 * the body's text or the asset's wiring changes; it cannot see helpers the body calls, nor data
 * the body reads from elsewhere (set `codeVersion` by hand for those).
 */
import { createHash } from "node:crypto"

/** A hash of `fn`'s source text and the JSON of `definition`. */
export const automaticCodeVersion = (fn: (...args: never) => unknown, definition: unknown): string =>
  createHash("sha256")
    .update(fn.toString())
    .update("\0")
    .update(JSON.stringify(definition))
    .digest("hex")
    .slice(0, 24)
