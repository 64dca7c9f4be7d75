/** How times, durations and values read on screen. */

/** `2026-11-25 21:04:05` in the browser's time zone. */
export const formatTime = (millis: number | null | undefined): string => {
  if (millis == null) return "—"
  const d = new Date(millis)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`. */
export const formatDuration = (millis: number | null | undefined): string => {
  if (millis == null) return "—"
  if (millis < 1000) return `${Math.round(millis)} ms`
  if (millis < 60_000) return `${(millis / 1000).toFixed(1)} s`
  const s = Math.round(millis / 1000)
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** A cell of a query result or a metadata value as text. */
export const formatValue = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  if (typeof value === "string") return value
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value)
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}
