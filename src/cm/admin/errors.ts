/**
 * Every HTTP status the admin API answers with, decided here and nowhere else: an operation's
 * outcome kind maps to one status, and the failures Fastify meets before an operation runs (a
 * body too large or not JSON, a field of the wrong type, no such route, no token) get theirs.
 * Every error answer is `{error}` in words, with `field` when one field is at fault.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody, Failure, Outcome } from './contract.ts';

export const FAILURE_STATUS: Readonly<Record<Failure['kind'], number>> = {
  invalid: 400,
  'not-found': 404,
  conflict: 409,
  // Documented as 409 since version 1: the resource exists but cannot act now (trust with
  // security off, a phone not connected, no registrar).
  unavailable: 409,
};

export function sendOutcome(reply: FastifyReply, outcome: Outcome<unknown>, okStatus: 200 | 201 | 204): FastifyReply {
  if (outcome.kind === 'ok') return okStatus === 204 ? reply.code(204).send() : reply.code(okStatus).send(outcome.value);
  const body: ErrorBody = outcome.kind === 'invalid' ? { error: outcome.message, field: outcome.field } : { error: outcome.message };
  return reply.code(FAILURE_STATUS[outcome.kind]).send(body);
}

export function sendUnauthorized(reply: FastifyReply): FastifyReply {
  return reply.code(401).send({ error: 'missing or wrong admin token' } satisfies ErrorBody);
}

export function sendNoRoute(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send({ error: `no route for ${req.method} ${req.url.split('?')[0]}` } satisfies ErrorBody);
}

/** `/roles/0` -> `roles[0]`. */
const fieldOf = (pointer: string) => pointer.slice(1).split('/').map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('');

/** Errors raised by Fastify itself: schema validation, body size, unreadable JSON; else a bug. */
export function sendHttpError(error: FastifyError, _req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const first = error.validation?.[0];
  if (first) {
    const params = first.params as { missingProperty?: string; allowedValues?: unknown[]; type?: string };
    const field = params.missingProperty ?? (fieldOf(first.instancePath) || String(error.validationContext ?? 'body'));
    const words =
      first.keyword === 'required' ? `${field} is missing`
      : first.keyword === 'enum' ? `${field} must be one of ${(params.allowedValues ?? []).join(', ')}`
      : first.keyword === 'type' ? `${field} must be ${/^[aeiou]/.test(params.type ?? '') ? 'an' : 'a'} ${params.type}`
      : `${field} ${first.message ?? 'is not valid'}`;
    return reply.code(400).send({ error: words, field } satisfies ErrorBody);
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'request body too large' } satisfies ErrorBody);
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  return reply.code(status).send({ error: error.message } satisfies ErrorBody);
}
