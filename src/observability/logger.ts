import pino, { type Logger } from 'pino';

// Structured JSON logs (pino), one writer per thread on stderr.
//
// What may appear in a line is decided here, not at each call site: the
// per-call line is built from a fixed list of fields (callLine), and any
// field whose name suggests a secret or a payload is censored, so a careless
// `log(..., { headers })` or `{ messages }` cannot leak a key or a prompt.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type { Logger };

/** Field names that must never carry their value into a log line, at any depth pino redacts. */
const SECRET_FIELDS = [
  'authorization', 'apiKey', 'api_key', 'x-api-key', 'key', 'keys', 'token', 'adminToken', 'secret', 'password',
  'headers', 'body', 'messages', 'prompt', 'input', 'system', 'instructions', 'completion', 'content', 'text',
];
const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export interface LoggerOptions {
  level: LogLevel;
  /** Fields on every line (shard number, ...). */
  base?: Record<string, unknown>;
  /** Where lines go; stderr (fd 2) unless given (tests pass a stream). */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  // Asynchronous writes coalesce lines under load; flushLogger() before a
  // thread exits writes what is still buffered.
  const dest = opts.destination ?? pino.destination({ dest: 2, sync: false });
  return pino({
    level: opts.level,
    base: opts.base ?? {},
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }, dest);
}

/** Writes out buffered lines now (before a worker exits or the process stops). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
    const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined;
    stream?.flushSync?.();
  } catch {
    // A stream still opening or already closed has nothing to flush.
  }
}

/** The one line written per proxied call. Only these fields: no prompt, completion or key can get in. */
export interface CallLine {
  request_id: string;
  endpoint: string;
  customer: string | null;
  agent: string | null;
  model: string | null;
  provider: string | null;
  status: number;
  decision: string;
  latency_ms: number;
  reason?: string | null;
}

export function callLine(f: CallLine): CallLine {
  const line: CallLine = {
    request_id: f.request_id,
    endpoint: f.endpoint,
    customer: f.customer,
    agent: f.agent,
    model: f.model,
    provider: f.provider,
    status: f.status,
    decision: f.decision,
    latency_ms: f.latency_ms,
  };
  if (f.reason) line.reason = f.reason.slice(0, 300);
  return line;
}
