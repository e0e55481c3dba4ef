/**
 * The official OVH OpenAPI document as a validator: finds the operation for a concrete call and
 * checks its query, request body and response against the documented schemas.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;
interface Operation {
  parameters?: { in: string; name: string }[];
  requestBody?: { content: { 'application/json': { schema: Json } } };
  responses: Record<string, { content?: { 'application/json': { schema: Json } } }>;
}

const doc = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/ovh-api/ipLoadbalancing.openapi-2025.json'), 'utf8'),
) as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Json> } };

/**
 * OpenAPI 3.0 to JSON Schema: `nullable` becomes an explicit null alternative, and objects
 * refuse properties the schema does not declare (stricter than OVH's docs, on purpose).
 * In requests, read-only properties are refused too.
 */
const translate = (schema: unknown, request: boolean): unknown => {
  if (Array.isArray(schema)) return schema.map((s) => translate(s, request));
  if (typeof schema !== 'object' || schema === null) return schema;
  const { nullable, readOnly: _r, description: _d, example: _e, ...rest } = schema as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k === '$ref') out.$ref = `${request ? 'req' : 'res'}:${String(v).split('/').pop()}`;
    else if (k === 'properties') {
      const props: Json = {};
      for (const [name, prop] of Object.entries(v as Json)) {
        if (request && (prop as Json).readOnly) continue;
        props[name] = translate(prop, request);
      }
      out.properties = props;
    } else out[k] = translate(v, request);
  }
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined)
    out.additionalProperties = false;
  return nullable ? { anyOf: [out, { type: 'null' }] } : out;
};

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
for (const [name, schema] of Object.entries(doc.components.schemas)) {
  ajv.addSchema(translate(schema, false) as Json, `res:${name}`);
  ajv.addSchema(translate(schema, true) as Json, `req:${name}`);
}

const templates = Object.keys(doc.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

export interface Exchange {
  method: string;
  /** Path below the API base, e.g. /ipLoadbalancing/lb-1/http/farm/3 */
  path: string;
  query: URLSearchParams;
  requestBody: unknown;
  status: number;
  responseBody: unknown;
}

const problems = (validate: ValidateFunction, value: unknown, what: string): string[] =>
  validate(value) ? [] : (validate.errors ?? []).map((e) => `${what}${e.instancePath} ${e.message}`);

/** Every way an exchange departs from the official document; empty when it conforms. */
export const checkExchange = (x: Exchange): string[] => {
  // A literal path (like .../task) wins over a template (.../{farmId}) that would also match.
  const found = templates
    .filter((t) => t.pattern.test(x.path))
    .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0))[0];
  const operation = found && doc.paths[found.template]?.[x.method.toLowerCase()];
  if (!found || !operation) return [`${x.method} ${x.path}: no such operation in the OVH API`];
  const out: string[] = [];
  const declared = new Set((operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
  for (const name of x.query.keys())
    if (!declared.has(name)) out.push(`query parameter ${name} is not declared`);
  const bodySchema = operation.requestBody?.content['application/json'].schema;
  if (x.requestBody !== undefined) {
    if (!bodySchema) out.push('sends a body the operation does not take');
    else out.push(...problems(ajv.compile(translate(bodySchema, true) as Json), x.requestBody, 'request'));
  }
  const responseSchema = operation.responses['200']?.content?.['application/json'].schema;
  if (x.status === 200 && responseSchema) {
    out.push(...problems(ajv.compile(translate(responseSchema, false) as Json), x.responseBody, 'response'));
  }
  return out.map((p) => `${x.method} ${found.template}: ${p}`);
};
