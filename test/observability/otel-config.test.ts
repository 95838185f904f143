import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { metricsUrl } from '../../src/observability/otel-export.js';

function problemsOf(otel: unknown): string[] {
  try {
    parseConfig({ otel });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loaded without error');
}

describe('otel config', () => {
  it('is off unless set, and defaults the interval to 15 s', () => {
    expect(parseConfig({}).otel).toBeUndefined();
    expect(parseConfig({ otel: { endpoint: 'http://collector:4318' } }).otel).toEqual({ endpoint: 'http://collector:4318', interval: 15_000, headers: {} });
  });

  it('takes the interval in the duration format and headers from the environment', () => {
    const c = parseConfig({ otel: { endpoint: 'https://otlp.example.com', interval: '500ms', headers: { 'x-api-key': '${OTLP_KEY}' } } }, { OTLP_KEY: 'k1' });
    expect(c.otel).toEqual({ endpoint: 'https://otlp.example.com', interval: 500, headers: { 'x-api-key': 'k1' } });
  });

  const cases: [string, unknown, RegExp][] = [
    ['a missing endpoint', { interval: '1s' }, /^otel\.endpoint: Required/],
    ['an endpoint that is not a URL', { endpoint: 'collector:4318x' }, /^otel\.endpoint: /],
    ['an endpoint that is not http(s)', { endpoint: 'ftp://collector' }, /^otel\.endpoint: an http:\/\/ or https:\/\/ URL/],
    ['an interval under 100 ms', { endpoint: 'http://c', interval: '50ms' }, /^otel\.interval: at least 100ms/],
    ['an interval that is no duration', { endpoint: 'http://c', interval: 'often' }, /^otel\.interval: /],
    ['a header value with a line break', { endpoint: 'http://c', headers: { a: 'x\r\ny: z' } }, /^otel\.headers\.a: a header value without line breaks/],
    ['an unknown field', { endpoint: 'http://c', protocol: 'grpc' }, /^otel\.protocol: unknown field/],
  ];
  for (const [name, otel, expected] of cases) {
    it(`refuses ${name}, naming the field`, () => {
      expect(problemsOf(otel).some((p) => expected.test(p)), problemsOf(otel).join('\n')).toBe(true);
    });
  }

  it('posts to /v1/metrics under the endpoint unless the endpoint already names it', () => {
    expect(metricsUrl('http://collector:4318')).toBe('http://collector:4318/v1/metrics');
    expect(metricsUrl('http://collector:4318/otlp/')).toBe('http://collector:4318/otlp/v1/metrics');
    expect(metricsUrl('https://h.example/v1/metrics')).toBe('https://h.example/v1/metrics');
  });
});
