import { readFileSync } from 'node:fs';
import { adminPaths } from './openapi-admin-paths.js';
import { controlPaths, mergePaths } from './openapi-control-paths.js';
import { proxyPaths } from './openapi-paths.js';
import { componentSchemas } from './openapi-schemas.js';
import { walletPaths } from './openapi-wallet-paths.js';

// GET /admin/openapi.json: an OpenAPI 3.1 document of every route Tollgate
// serves, built from the schemas that validate requests (openapi-schemas.ts)
// and the route constants the server mounts, so it cannot drift from them.

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate',
      version: version(),
      summary: 'LLM budget-enforcement proxy: OpenAI / Anthropic compatible endpoints, monitoring mode and the admin API.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'This Tollgate' }],
    tags: [
      { name: 'proxy', description: 'Model calls: point the official SDKs\' base URL here.' },
      { name: 'monitoring', description: 'Budgets for apps that call the provider themselves.' },
      { name: 'admin', description: 'Admin API (adminToken).' },
      { name: 'operations', description: 'Health, readiness, metrics, dashboard.' },
    ],
    paths: mergePaths(proxyPaths(), adminPaths(), controlPaths(), walletPaths()),
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        clientBearer: { type: 'http', scheme: 'bearer', description: 'A client key (customer key or app key), as the OpenAI SDK sends it.' },
        clientApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A client key, as the Anthropic SDK sends it.' },
        adminBearer: { type: 'http', scheme: 'bearer', description: 'An admin token (adminToken / adminTokens).' },
        metricsBearer: { type: 'http', scheme: 'bearer', description: 'metrics.token, when set.' },
      },
    },
  };
}
