/**
 * Asset options are checked: durations are Effect duration strings, the retry backoff is one of
 * three names, `attempts` is a number, option names are known, `deps` holds assets or keys.
 */
import { asset } from "@materia/assets"

// @expect TS2322 "Type '"30 minuts"' is not assignable to type 'Input | undefined'"
export const timed = asset("timed", { timeout: "30 minuts" }, () => 1)

// @expect TS2820 "Type '"exponentail"' is not assignable to type '"constant" | "exponential" | "linear" | undefined'. Did you mean '"exponential"'?"
export const backoff = asset("backoff", { retry: { attempts: 3, backoff: "exponentail" } }, () => 1)

// @expect TS2322 "Type '"1 secnd"' is not assignable to type 'Input | undefined'"
export const delayed = asset("delayed", { retry: { attempts: 3, delay: "1 secnd" } }, () => 1)

// @expect TS2322 "Type 'string' is not assignable to type 'number'"
export const attempts = asset("attempts", { retry: { attempts: "3" } }, () => 1)

// @expect TS2561 "Did you mean to write 'timeout'?"
export const misnamed = asset("misnamed", { timout: "30 minutes" }, () => 1)

// @expect TS2322 "Type 'number' is not assignable to type 'string | AnyAsset | readonly [string, ...string[]]'"
export const deps = asset("deps", { deps: [42] }, () => 1)
