import type { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { ERRORS } from '../http/errors.js';
import { CSV_COLUMNS } from '../store/usage-record.js';
import { budgetSchema } from '../config/schema.js';
import { authorizeBodySchema, eventBodySchema, releaseBodySchema } from '../monitoring/usage-bodies.js';

// Component schemas of GET /admin/openapi.json. Request bodies come from the
// zod schemas that validate them (converted here), the error types from the
// error registry, the usage row's fields from the CSV column list: a change
// there changes the document.

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema of a zod schema, as the request is parsed (its input). Draft-07
 * keywords: a subset of OpenAPI 3.1's 2020-12 dialect (the library's
 * 2019-09 target writes draft-04's boolean exclusiveMinimum).
 */
export function fromZod(schema: z.ZodTypeAny): JsonSchema {
  // removeAdditionalStrategy 'strict': only .strict() objects refuse unknown fields; the others ignore them, as the parsers do.
  const s = zodToJsonSchema(schema, { target: 'jsonSchema7', $refStrategy: 'none', effectStrategy: 'input', removeAdditionalStrategy: 'strict' }) as JsonSchema;
  delete s.$schema;
  return s;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const NUMERIC_ROW_FIELDS = new Set(['prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'cost_usd', 'billed', 'status', 'latency_ms']);

function usageRow(): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const c of CSV_COLUMNS) properties[c] = NUMERIC_ROW_FIELDS.has(c) ? { type: 'number' } : { type: ['string', 'null'] };
  properties.ts = { type: 'string', format: 'date-time' };
  properties.tags = { type: ['object', 'string', 'null'], description: 'The x-tollgate-tags of the call.' };
  properties.decision = { type: 'string', description: 'allowed, blocked, ...' };
  properties.cost_usd = { type: 'number', description: 'List price of the answering model, USD.' };
  properties.billed = { type: 'number', description: 'What the customer is billed (resale price), in the budget currency.' };
  properties.attempts = { type: 'array', items: { type: 'object' }, description: 'Upstream attempts of the call (retries, fallbacks).' };
  return { type: 'object', properties, required: [...CSV_COLUMNS] };
}

export function componentSchemas(): Record<string, JsonSchema> {
  const errorTypes = Object.keys(ERRORS);
  return {
    ErrorType: { type: 'string', enum: errorTypes, description: 'Every refusal or failure Tollgate itself produces (one type, one HTTP status). Upstream errors are passed through in the provider\'s own shape.' },
    Error: {
      type: 'object',
      description: 'An error in the OpenAI shape (every route but /v1/messages*).',
      required: ['error'],
      properties: { error: { type: 'object', required: ['type', 'message'], additionalProperties: true, properties: { type: ref('ErrorType'), code: ref('ErrorType'), message: { type: 'string' } } } },
    },
    AnthropicError: {
      type: 'object',
      description: 'An error in the Anthropic shape (/v1/messages and /v1/messages/count_tokens).',
      required: ['type', 'error'],
      properties: { type: { const: 'error' }, error: { type: 'object', required: ['type', 'message'], additionalProperties: true, properties: { type: ref('ErrorType'), message: { type: 'string' } } } },
    },
    AuthorizeRequest: fromZod(authorizeBodySchema),
    UsageEventRequest: fromZod(eventBodySchema),
    ReleaseRequest: fromZod(releaseBodySchema),
    BudgetConfig: fromZod(budgetSchema),
    CustomerBudget: {
      description: 'A budget in scope (its configuration) with its live counters, in its unit.',
      allOf: [
        ref('BudgetConfig'),
        {
          type: 'object',
          properties: {
            source: { type: 'string' }, agent: { type: ['string', 'null'] },
            used: { type: 'number' }, reserved: { type: 'number' }, remaining: { type: 'number' },
            resets_at: { type: ['string', 'null'], format: 'date-time' },
          },
        },
      ],
    },
    UsageRow: usageRow(),
    UsagePage: { type: 'object', required: ['rows', 'next_cursor'], properties: { rows: { type: 'array', items: ref('UsageRow') }, next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last.' } } },
    Status: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
  };
}
