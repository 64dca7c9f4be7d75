/**
 * The one error the HTTP layer answers with: a status, a stable code and a message that names the
 * thing, what was expected and what was found. Backends throw it; the app turns it into
 * `{ error: { code, message } }`.
 */
import * as Data from "effect/Data"

export type ApiStatus = 400 | 401 | 403 | 404 | 409 | 413 | 500 | 503 | 504

export class ApiError extends Data.TaggedError("ApiError")<{
  readonly status: ApiStatus
  readonly code: string
  readonly message: string
}> {}

/** A JSON-safe error as it crosses a process boundary (the code server's IPC). */
export interface ApiErrorData {
  readonly status: ApiStatus
  readonly code: string
  readonly message: string
}

export const isApiErrorData = (u: unknown): u is ApiErrorData =>
  typeof u === "object" &&
  u !== null &&
  typeof (u as { status?: unknown }).status === "number" &&
  typeof (u as { code?: unknown }).code === "string" &&
  typeof (u as { message?: unknown }).message === "string"

export const notFound = (what: string): ApiError =>
  new ApiError({ status: 404, code: "NotFound", message: what })

export const badRequest = (message: string, code = "BadRequest"): ApiError =>
  new ApiError({ status: 400, code, message })
