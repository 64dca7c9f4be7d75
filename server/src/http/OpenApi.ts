/**
 * The OpenAPI 3.1 document of the API, generated from the route table and the same effect Schemas
 * that validate requests (`Schema.toJsonSchemaDocument`): named schemas become
 * `components.schemas`, so the document and the server cannot disagree.
 */
import * as Schema from "effect/Schema"
import { ApiErrorBody } from "./ApiSchemas.ts"

type AnySchema = Schema.Top

/** One endpoint as the document describes it. */
export interface RouteDoc {
  readonly method: "get" | "post"
  /** Hono style (`/api/v1/assets/:key`). */
  readonly path: string
  readonly summary: string
  readonly params?: AnySchema
  readonly query?: AnySchema
  readonly body?: AnySchema
  /** The success response; absent for streams and non-JSON answers. */
  readonly response?: AnySchema
  readonly status?: 200 | 202 | 302
  /** `text/event-stream` answers. */
  readonly stream?: boolean
  /** Needs the token even on loopback. */
  readonly auth?: boolean
}

type JsonObject = { [key: string]: unknown }

const rewriteRefs = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(rewriteRefs)
  if (typeof value !== "object" || value === null) return value
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(value))
    out[k] =
      k === "$ref" && typeof v === "string" ? v.replace("#/$defs/", "#/components/schemas/") : rewriteRefs(v)
  return out
}

/** Builds the document; `components.schemas` gathers every named schema the routes use. */
export const openApiDocument = (routes: ReadonlyArray<RouteDoc>, version: string): JsonObject => {
  const components: JsonObject = {}
  const schemaOf = (schema: AnySchema): JsonObject => {
    const doc = Schema.toJsonSchemaDocument(schema, { onExcessProperty: "error" })
    for (const [name, definition] of Object.entries(doc.definitions))
      components[name] = rewriteRefs(definition)
    return rewriteRefs(doc.schema) as JsonObject
  }
  const errorSchema = schemaOf(ApiErrorBody)
  const parametersOf = (schema: AnySchema | undefined, where: "path" | "query"): Array<JsonObject> => {
    if (schema === undefined) return []
    const object = schemaOf(schema) as { properties?: JsonObject; required?: ReadonlyArray<string> }
    return Object.entries(object.properties ?? {}).map(([name, property]) => ({
      name,
      in: where,
      required: where === "path" || (object.required ?? []).includes(name),
      schema: property
    }))
  }
  const paths: Record<string, JsonObject> = {}
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, "{$1}")
    const status = String(route.status ?? 200)
    const success: JsonObject = route.stream
      ? {
          description: "Server-Sent Events",
          content: { "text/event-stream": { schema: { type: "string" } } }
        }
      : route.response === undefined
        ? { description: status === "302" ? "redirect" : "OK" }
        : { description: "OK", content: { "application/json": { schema: schemaOf(route.response) } } }
    const error = (description: string) => ({
      description,
      content: { "application/json": { schema: errorSchema } }
    })
    const operation: JsonObject = {
      summary: route.summary,
      parameters: [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")],
      responses: {
        [status]: success,
        "400": error("bad input: the message says what was wrong"),
        ...(route.auth ? { "401": error("no token or a wrong one") } : {}),
        "403": error("the Host header is not this server's name"),
        ...(route.params === undefined
          ? {}
          : {
              "404": error(
                "unknown asset, run, backfill, schedule or sensor (the message names the known ones)"
              )
            }),
        ...(route.body === undefined ? {} : { "413": error("body too large") })
      },
      ...(route.auth ? { security: [{ bearer: [] }, { cookie: [] }] } : {}),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: { required: true, content: { "application/json": { schema: schemaOf(route.body) } } }
          })
    }
    paths[path] = { ...paths[path], [route.method]: operation }
  }
  return {
    openapi: "3.1.0",
    info: { title: "Materia HTTP API", version },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        cookie: { type: "apiKey", in: "cookie", name: "materia_token" }
      }
    }
  }
}
