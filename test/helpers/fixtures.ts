import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Shared pieces of integration configs, and list prices read straight from
// the committed table (so a test's expected cost does not come from the code
// under test).

export const CUSTOMER_KEY = 'tg-acme-key-1';
export const OTHER_KEY = 'tg-beta-key-1';
export const APP_KEY = 'tg-app-key-0001';
export const OPENAI_UPSTREAM_KEY = 'sk-upstream-openai-secret';
export const ANTHROPIC_UPSTREAM_KEY = 'sk-upstream-anthropic-secret';

export function providers(mockUrl: string) {
  return [
    { name: 'openai', type: 'openai', baseUrl: `${mockUrl}/v1`, apiKey: OPENAI_UPSTREAM_KEY },
    { name: 'anthropic', type: 'anthropic', baseUrl: mockUrl, apiKey: ANTHROPIC_UPSTREAM_KEY },
  ];
}

const table = JSON.parse(readFileSync(fileURLToPath(new URL('../../pricing/models.json', import.meta.url)), 'utf8'));

/** pico-USD per token for a model, from pricing/models.json. */
export function listPrice(model: string): { input: number; output: number; cache_read?: number } {
  const e = table.models[model];
  if (!e) throw new Error(`no ${model} in pricing/models.json`);
  return e;
}

/** Expected USD cost: OpenAI-style prompt tokens (cached included) × list price. */
export function expectedCostUsd(model: string, u: { prompt: number; completion: number; cached?: number }): number {
  const p = listPrice(model);
  const cached = u.cached ?? 0;
  const pico = (u.prompt - cached) * p.input + cached * (p.cache_read ?? p.input) + u.completion * (p.output ?? 0);
  return pico / 1e12;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
