import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import { RegistryError } from '../registry/types.ts'
import { StoreError } from '../store/types.ts'

interface SchemaError {
  keyword: string
  schemaPath: string
  instancePath: string
  params: Record<string, unknown>
  message?: string | undefined
}

/**
 * TypeBox's compiled checker instead of Fastify's Ajv: Ajv's defaults coerce body types
 * ("name": 123 becomes "123") and silently remove unknown fields, and both must be refused here.
 * Strings in params, querystring and headers are still converted to the declared types.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema)
  return (value: unknown): { value?: unknown; error?: FastifySchemaValidationError[] } => {
    let v = value
    if (httpPart !== 'body') v = Value.Convert(schema, v)
    v = Value.Default(schema, v)
    if (check.Check(v)) return { value: v }
    return { error: check.Errors(v) as unknown as FastifySchemaValidationError[] }
  }
}

function where(dataVar: string, path: string): string {
  return `${dataVar}${path}`
}

/** One sentence naming the field and what is wrong, e.g. "body/kind must be one of a, b". */
export function formatSchemaErrors(errors: readonly SchemaError[], dataVar: string): string {
  const errs = errors.filter((e) => e.keyword !== 'boolean')
  const first =
    errs.find((e) => !errs.some((o) => o !== e && o.keyword === 'anyOf' && e.schemaPath.startsWith(`${o.schemaPath}/anyOf/`))) ?? errs[0]
  if (!first) return `${dataVar} is not valid`
  const at = where(dataVar, first.instancePath)
  switch (first.keyword) {
    case 'additionalProperties': {
      const extra = (first.params.additionalProperties as string[] | undefined)?.[0] ?? '?'
      return `${where(dataVar, `${first.instancePath}/${extra}`)} is not an accepted field`
    }
    case 'required': {
      const missing = (first.params.requiredProperties as string[] | undefined) ?? []
      return missing.length === 1
        ? `${where(dataVar, `${first.instancePath}/${missing[0]}`)} is required`
        : `${at === dataVar ? dataVar : at} is missing required fields ${missing.join(', ')}`
    }
    case 'enum':
      return `${at} must be one of ${(first.params.allowedValues as unknown[]).map(String).join(', ')}`
    case 'const':
      return `${at} must be ${String(first.params.allowedValue)}`
    case 'anyOf': {
      const branches = errs.filter((e) => e.schemaPath.startsWith(`${first.schemaPath}/anyOf/`) && e.instancePath === first.instancePath)
      const consts = branches.filter((e) => e.keyword === 'const').map((e) => String(e.params.allowedValue))
      const types = branches.filter((e) => e.keyword === 'type').map((e) => String(e.params.type))
      if (consts.length > 0 && types.length === 0) return `${at} must be one of ${consts.join(', ')}`
      const all = [...consts, ...types]
      if (all.length > 0) return `${at} must be ${all.join(' or ')}`
      return `${at} is not valid`
    }
    case 'pattern':
      return `${at} must match ${String(first.params.pattern)}`
    default:
      return `${at} ${first.message ?? 'is not valid'}`
  }
}

export function schemaErrorFormatter(errors: unknown[], dataVar: string): Error {
  return new Error(formatSchemaErrors(errors as SchemaError[], dataVar))
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** An error the error handler answers with this status and message (errorBody). */
export function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode })
}

/** Rethrows a failure of the time-series store (not of the query it was given) as 503, anything else as it is. */
export function storeFailure(err: unknown): never {
  if (err instanceof StoreError && err.code !== 'invalid') throw httpError(503, `time-series store unavailable: ${err.message}`)
  throw err
}

export function errorBody(statusCode: number, message: string) {
  return { statusCode, error: REASONS[statusCode] ?? (statusCode < 500 ? 'Bad Request' : 'Internal Server Error'), message }
}

export type BadRequestReason = 'validation' | 'json' | 'media_type' | 'too_large' | 'not_found' | 'other'

/** The error handler; `rejected` counts refused input by reason (metrics). */
export function createErrorHandler(rejected: (reason: BadRequestReason) => void = () => {}) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const res = handleError(error, request, reply)
    if (reply.statusCode >= 400 && reply.statusCode < 500) rejected(reasonOf(error))
    return res
  }
}

function reasonOf(error: FastifyError): BadRequestReason {
  if (error.validation) return 'validation'
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError)
    return 'json'
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'media_type'
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'too_large'
  if (error instanceof RegistryError && error.code === 'not_found') return 'not_found'
  return 'other'
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation) return reply.code(400).send(errorBody(400, error.message))
  if (error instanceof RegistryError) {
    const code = error.code === 'not_found' ? 404 : error.code === 'conflict' ? 409 : 400
    return reply.code(code).send(errorBody(code, error.message))
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return reply
        .code(400)
        .send(errorBody(400, 'body is not valid JSON (content-type is application/json): check quotes, commas and brackets'))
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply
        .code(400)
        .send(errorBody(400, 'body is empty but content-type is application/json: send a JSON object or drop the header'))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply
        .code(415)
        .send(errorBody(415, `content-type ${String(request.headers['content-type'])} is not accepted: send application/json`))
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply.code(413).send(errorBody(413, `body is larger than the limit of ${request.routeOptions.bodyLimit ?? 0} bytes`))
  }
  // secure-json-parse refuses __proto__ / constructor.prototype keys with a SyntaxError.
  if (error instanceof SyntaxError) return reply.code(400).send(errorBody(400, `body is not valid JSON: ${error.message}`))
  const status = typeof error.statusCode === 'number' ? error.statusCode : 500
  if (status >= 400 && status < 500) return reply.code(status).send(errorBody(status, error.message))
  // A handler that chose a 5xx (e.g. 503 while a store is down) chose its message too.
  if (status > 500 && status < 600) return reply.code(status).send(errorBody(status, error.message))
  request.log.error({ err: error }, 'request failed')
  return reply.code(500).send(errorBody(500, `internal error (request ${request.id}); the gateway log has the details`))
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? request.url
  return reply.code(404).send(errorBody(404, `no route ${request.method} ${path}: the API is described at /docs`))
}
