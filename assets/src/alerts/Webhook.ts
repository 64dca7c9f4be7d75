/**
 * The built-in webhook alert: POSTs an alert summary as JSON (or as a Slack message) with retries and
 * a bounded total time. Its `send` never fails and never hangs: every failure is an outcome with
 * `ok: false` and a reason, and URLs in reasons are stripped of credentials.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { Alert, AlertOutcome } from "./Alert.ts"
import { AlertSummary } from "./AlertSummary.ts"
import { slackMessage } from "./SlackMessage.ts"

export type { Alert, AlertOutcome } from "./Alert.ts"

/** Options of `webhookAlert`. */
export interface WebhookOptions {
  /** An absolute `http:` or `https:` URL. */
  readonly url: string
  /** `json` posts the AlertSummary; `slack` posts `{ text, blocks }`. Default `json`. */
  readonly format?: "json" | "slack"
  /** Extra request headers (e.g. `authorization`); `content-type` is always `application/json`. */
  readonly headers?: Readonly<Record<string, string>>
  /** Attempts in all, the first included. Default 3. */
  readonly attempts?: number
  /** The time limit of one attempt, answer body included. Default 10 seconds. */
  readonly timeout?: Duration.Input
  /** The time limit of the whole delivery, retries and waits included. Default 30 seconds. */
  readonly totalTimeout?: Duration.Input
  /** The first delay between attempts; it doubles after each attempt. Default 500 millis. */
  readonly backoff?: Duration.Input
  /** The alert's name in events; default `webhook <redacted url>`. */
  readonly name?: string
}

/** One failed attempt (internal): why, whether another attempt may help, and the server's wishes. */
class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly message: string
  readonly retryable: boolean
  readonly status?: number
  readonly retryAfterMillis?: number
}> {}

/** How much of an error answer's body goes into the reason. */
const snippetBytes = 300

/**
 * The URL with credentials hidden: user info, query values and fragment become `***`, and so does
 * the secret path of a Slack webhook. Text that is not a URL keeps only what precedes `?` and `#`.
 * @example redactUrl("https://u:p@x.io/h?token=abc") // "https://***:***@x.io/h?token=***"
 */
export const redactUrl = (url: string): string => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return redactText(url.replace(/[?#].*$/s, (rest) => (rest.length > 0 ? `${rest[0]}***` : "")))
  }
  const userinfo = u.username !== "" || u.password !== "" ? `***${u.password === "" ? "" : ":***"}@` : ""
  const path =
    u.hostname === "hooks.slack.com" && u.pathname.startsWith("/services/") ? "/services/***" : u.pathname
  const query =
    u.search === ""
      ? ""
      : `?${u.search
          .slice(1)
          .split("&")
          .map((pair) => (pair.includes("=") ? `${pair.split("=", 1)[0]}=***` : "***"))
          .join("&")}`
  const hash = u.hash === "" ? "" : "#***"
  const slashes = u.href.startsWith(`${u.protocol}//`) ? "//" : ""
  return `${u.protocol}${slashes}${userinfo}${u.host}${path}${query}${hash}`
}

/** Hides `user:pass@` in any URL-like text (e.g. an error message that quotes a URL). */
const redactText = (text: string): string =>
  text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s@]*)@/gi, (match, scheme: string, userinfo: string) =>
    userinfo === "***" || userinfo === "***:***" ? match : `${scheme}***@`
  )

const safeDecode = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

const invalid = (what: string): never => {
  throw new TypeError(`webhookAlert: ${what}`)
}

const positiveDuration = (name: string, input: Duration.Input): Duration.Duration => {
  const d = Option.getOrUndefined(Duration.fromInput(input))
  if (d === undefined || !Duration.isFinite(d) || !Duration.isPositive(d)) {
    return invalid(
      `${name} must be a positive, finite duration such as "10 seconds", got ${JSON.stringify(input)}`
    )
  }
  return d
}

/** Retry-After in seconds (the HTTP-date form is not honored: it falls back to the backoff). */
const parseRetryAfter = (value: string | null): number | undefined =>
  value !== null && /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : undefined

/** Reads at most `max` bytes of a body as text, then releases the connection. */
const readSnippet = async (response: Response, max: number): Promise<string> => {
  const body = response.body
  if (body === null) return ""
  const reader = body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  try {
    while (size < max) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max))
  return size > max ? `${text}…` : text
}

/** The reason of a rejected `fetch`: undici hides the useful part (ECONNREFUSED, …) in `cause`. */
const describeFetchError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? error.cause.message : undefined
  return cause === undefined || cause === error.message ? error.message : `${error.message}: ${cause}`
}

/**
 * A webhook alert: POSTs the summary as JSON (or as a Slack message with `format: "slack"`), retrying
 * network errors, timeouts, 5xx and 429 (honoring `Retry-After` seconds) with exponential backoff.
 * Throws a TypeError at once for a URL that is not http(s) or for invalid options.
 * @example webhookAlert({ url: "https://hooks.slack.com/services/T/B/X", format: "slack" })
 */
export const webhookAlert = (options: WebhookOptions): Alert => {
  let parsed: URL
  try {
    parsed = new URL(options.url)
  } catch {
    return invalid(`invalid url "${redactUrl(options.url)}": expected an absolute http:// or https:// URL`)
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return invalid(
      `unsupported url "${redactUrl(options.url)}": expected an http:// or https:// URL, got ${parsed.protocol.slice(0, -1)}`
    )
  }
  const attempts = options.attempts ?? 3
  if (!Number.isInteger(attempts) || attempts < 1) {
    return invalid(`attempts must be a whole number of at least 1, got ${attempts}`)
  }
  const timeout = positiveDuration("timeout", options.timeout ?? "10 seconds")
  const totalTimeout = positiveDuration("totalTimeout", options.totalTimeout ?? "30 seconds")
  const backoff = positiveDuration("backoff", options.backoff ?? "500 millis")
  const format = options.format ?? "json"
  if (format !== "json" && format !== "slack") {
    return invalid(`format must be "json" or "slack", got ${JSON.stringify(format)}`)
  }
  let headers: Headers
  try {
    headers = new Headers(options.headers)
  } catch (e) {
    return invalid(`invalid headers: ${e instanceof Error ? e.message : String(e)}`)
  }
  headers.set("content-type", "application/json")
  // fetch refuses URLs with credentials: send them as Basic auth, as curl does, unless the caller
  // already set an authorization header.
  if ((parsed.username !== "" || parsed.password !== "") && !headers.has("authorization")) {
    const credentials = `${safeDecode(parsed.username)}:${safeDecode(parsed.password)}`
    headers.set("authorization", `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`)
  }
  const target = new URL(parsed.href)
  target.username = ""
  target.password = ""
  const url = target.href
  const shown = redactUrl(parsed.href)
  const name = options.name ?? `webhook ${shown}`
  const timeoutMillis = Duration.toMillis(timeout)
  // Every secret part of the URL, raw and decoded, longest first; short values would blank out
  // ordinary words (e.g. `?v=1`) and are not secrets worth the name.
  const secrets = [
    parsed.username,
    parsed.password,
    ...parsed.searchParams.values(),
    ...(shown.includes("/services/***") ? [parsed.pathname.slice("/services/".length)] : [])
  ]
    .flatMap((s) => [s, safeDecode(s)])
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length)
  /** Every text that leaves this module goes through here: no URL credentials in reasons. */
  const scrub = (text: string): string =>
    secrets.reduce(
      (t, secret) => t.split(secret).join("***"),
      redactText(text.split(url).join(shown).split(parsed.href).join(shown).split(options.url).join(shown))
    )

  const body = (summary: AlertSummary): Effect.Effect<string, AttemptFailed> =>
    Schema.encodeEffect(AlertSummary)(summary).pipe(
      Effect.map((encoded) => JSON.stringify(format === "slack" ? slackMessage(encoded) : encoded)),
      Effect.mapError(
        (e) => new AttemptFailed({ message: `invalid alert summary: ${e.message}`, retryable: false })
      )
    )

  /** One POST; succeeds with the status of a 2xx answer. */
  const post = (payload: string): Effect.Effect<number, AttemptFailed> =>
    Effect.tryPromise({
      try: async (signal) => {
        // The Effect timeout interrupts (and so aborts) the attempt; the signal's own timer also
        // bounds it in wall-clock time when a test clock stands still.
        const both = AbortSignal.any([signal, AbortSignal.timeout(timeoutMillis)])
        const response = await fetch(url, {
          method: "POST",
          headers,
          body: payload,
          signal: both,
          redirect: "manual"
        })
        if (response.ok) {
          await response.body?.cancel().catch(() => undefined)
          return { status: response.status }
        }
        const snippet = (await readSnippet(response, snippetBytes).catch(() => "")).trim()
        return {
          status: response.status,
          statusText: response.statusText,
          snippet,
          retryAfterMillis: parseRetryAfter(response.headers.get("retry-after"))
        }
      },
      catch: (error) =>
        new AttemptFailed({
          message:
            error instanceof Error && error.name === "TimeoutError"
              ? `POST ${shown} timed out after ${Duration.format(timeout)}`
              : scrub(`POST ${shown} failed: ${describeFetchError(error)}`),
          retryable: true
        })
    }).pipe(
      Effect.flatMap((answer) => {
        if (!("statusText" in answer)) return Effect.succeed(answer.status)
        const status = answer.status
        const redirect = status >= 300 && status < 400 ? " (redirects are not followed)" : ""
        const text = answer.snippet === "" ? "" : `: ${answer.snippet}`
        return Effect.fail(
          new AttemptFailed({
            message: scrub(`POST ${shown} answered ${status} ${answer.statusText}${redirect}${text}`),
            retryable: status >= 500 || status === 429,
            status,
            ...(answer.retryAfterMillis === undefined ? {} : { retryAfterMillis: answer.retryAfterMillis })
          })
        )
      }),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new AttemptFailed({
              message: `POST ${shown} timed out after ${Duration.format(timeout)}`,
              retryable: true
            })
          )
      })
    )

  // Exponential backoff for `attempts - 1` retries; a longer Retry-After replaces the backoff delay.
  const policy = Schedule.max([Schedule.exponential(backoff), Schedule.recurs(attempts - 1)]).pipe(
    Schedule.setInputType<AttemptFailed>(),
    Schedule.modifyDelay(({ input, duration }) =>
      Effect.succeed(
        input.retryAfterMillis === undefined
          ? duration
          : Duration.max(duration, Duration.millis(input.retryAfterMillis))
      )
    )
  )

  const send = (summary: AlertSummary): Effect.Effect<AlertOutcome> =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const deadline = start + Duration.toMillis(totalTimeout)
      let count = 0
      let last: AttemptFailed | undefined
      // A Retry-After that ends past the deadline stops the retries at once rather than wait in vain.
      let beyondBound: number | undefined
      const attempt = (payload: string) =>
        Effect.suspend(() => {
          count++
          return post(payload)
        }).pipe(
          Effect.tapError((e) =>
            Effect.sync(() => {
              last = e
            })
          )
        )
      const retryable = (e: AttemptFailed): Effect.Effect<boolean> =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (!e.retryable) return false
          if (e.retryAfterMillis !== undefined && now + e.retryAfterMillis > deadline) {
            beyondBound = e.retryAfterMillis
            return false
          }
          return true
        })
      const failed = (
        e: AttemptFailed | undefined,
        reason: string
      ): Omit<AlertOutcome, "durationMillis"> => ({
        ok: false,
        attempts: count,
        ...(e?.status === undefined ? {} : { status: e.status }),
        error: reason
      })
      // An invalid summary fails before any request: `attempts: 0`.
      const outcome: Omit<AlertOutcome, "durationMillis"> = yield* body(summary).pipe(
        Effect.flatMap((payload) =>
          attempt(payload).pipe(Effect.retry({ schedule: policy, while: retryable }))
        ),
        Effect.map((status): Omit<AlertOutcome, "durationMillis"> => ({ ok: true, attempts: count, status })),
        Effect.catch((e) =>
          Effect.succeed(
            failed(
              e,
              beyondBound === undefined
                ? e.message
                : `${e.message}; not retried: Retry-After ${beyondBound / 1000} s ends after the total timeout of ${Duration.format(totalTimeout)}`
            )
          )
        ),
        Effect.timeoutOrElse({
          duration: totalTimeout,
          orElse: () =>
            Effect.sync(() =>
              failed(
                last,
                `gave up after the total timeout of ${Duration.format(totalTimeout)} (${count} attempt${count === 1 ? "" : "s"}; last: ${last?.message ?? "still in flight"})`
              )
            )
        }),
        // A defect here is a bug of ours; it still must not fail the run that sends the alert.
        Effect.catchCause((cause) =>
          Effect.succeed(failed(last, scrub(`webhook alert crashed: ${String(Cause.squash(cause))}`)))
        )
      )
      const end = yield* Clock.currentTimeMillis
      return { ...outcome, durationMillis: end - start }
    })

  return { name, send }
}
