/**
 * `useLoad`: runs an API call when its inputs change and keeps its value, its error and whether it
 * is loading; `reload` calls it again (keeping the last value on screen meanwhile).
 */
import { useCallback, useEffect, useRef, useState } from "react"

export interface Loaded<A> {
  readonly value: A | undefined
  readonly error: unknown
  readonly loading: boolean
  readonly reload: () => void
}

export const useLoad = <A>(load: () => Promise<A>, inputs: ReadonlyArray<unknown>): Loaded<A> => {
  const [state, setState] = useState<{ value: A | undefined; error: unknown; loading: boolean }>({
    value: undefined,
    error: undefined,
    loading: true
  })
  const [generation, setGeneration] = useState(0)
  const latest = useRef(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names the inputs of `load`
  useEffect(() => {
    const call = ++latest.current
    setState((s) => ({ ...s, loading: true }))
    load().then(
      (value) => {
        if (call === latest.current) setState({ value, error: undefined, loading: false })
      },
      (error: unknown) => {
        if (call === latest.current) setState((s) => ({ value: s.value, error, loading: false }))
      }
    )
  }, [...inputs, generation])
  const reload = useCallback(() => setGeneration((g) => g + 1), [])
  return { ...state, reload }
}
