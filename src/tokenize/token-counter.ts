import { setMaxListeners } from 'node:events';
import { Piscina } from 'piscina';
import { encodingForModel } from './encoding-for-model.js';
import { byteBound } from './bounded-pieces.js';
import type { CountResult } from './worker.js';

/**
 * Token counts from a small Piscina pool, used where the provider did not
 * report usage (client disconnect, cut stream, silent upstream) or reported
 * numbers that cannot be true. The decision never waits on it: it uses the
 * fast estimate. Counting is bounded: a task counts for at most
 * `budgetMs` (the rest is bounded by bytes), and a task not done within
 * `timeoutMs` (queue included) is dropped for the byte bound of every
 * text. So a count always comes back, exact or an upper bound.
 */
/** Tasks started within one slice share one timeout signal (see #deadline). */
const DEADLINE_SLICE_MS = 100;

export class TokenCounter {
  #pool: Piscina | undefined;
  #signal: AbortSignal | undefined;
  #signalUntil = 0;

  constructor(private readonly maxThreads = 1, private readonly limits = { budgetMs: 1000, timeoutMs: 5000 }) {}

  #get(): Piscina {
    this.#pool ??= new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.maxThreads,
      idleTimeout: 60_000,
      maxQueue: 10_000,
    });
    return this.#pool;
  }

  async count(model: string, texts: string[]): Promise<CountResult> {
    try {
      return await this.#get().run({ encoding: encodingForModel(model), texts, budgetMs: this.limits.budgetMs }, { signal: this.#deadline() });
    } catch {
      return { counts: texts.map(byteBound), exact: false };
    }
  }

  /**
   * The timeout of a task started now: one signal per slice of start times,
   * firing `timeoutMs` after its slice ends, so a task is dropped between
   * `timeoutMs` and `timeoutMs` + one slice after it started. A signal (a timer
   * and its cleanup registration, kept for the whole timeout) per task cost a
   * growing stream's counts more than the counting they bound.
   */
  #deadline(): AbortSignal {
    const now = performance.now();
    if (!this.#signal || now >= this.#signalUntil) {
      this.#signal = AbortSignal.timeout(this.limits.timeoutMs + DEADLINE_SLICE_MS);
      setMaxListeners(0, this.#signal); // one listener per task in flight (Piscina removes each when its task is done)
      this.#signalUntil = now + DEADLINE_SLICE_MS;
    }
    return this.#signal;
  }

  get queueSize(): number {
    return this.#pool?.queueSize ?? 0;
  }

  async close(): Promise<void> {
    await this.#pool?.destroy();
  }
}

/** What a request's prompt holds, for counting: its text, token-id arrays, and whether it carries media text counting cannot see. */
export interface PromptParts { text: string; tokenIds: number; media: boolean }

const MEDIA_KEYS = new Set(['image_url', 'source', 'input_audio', 'file', 'image', 'audio']);

export function promptParts(body: Record<string, unknown>): PromptParts {
  const out: string[] = [];
  let tokenIds = 0;
  let media = false;
  const walk = (v: unknown, depth: number) => {
    if (depth > 64) return;
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) {
      // A prompt given as token ids (embeddings, completions): one token per id.
      if (v.length && v.every((x) => typeof x === 'number')) tokenIds += v.length;
      else for (const x of v) walk(x, depth + 1);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (MEDIA_KEYS.has(k)) {
          media = true;
          continue;
        }
        if (k === 'type' || k === 'role') continue;
        walk(x, depth + 1);
      }
    }
  };
  walk(body.system, 0);
  walk(body.instructions, 0);
  walk(body.messages, 0);
  walk(body.input, 0);
  walk(body.prompt, 0);
  walk(body.tools, 0);
  return { text: out.join('\n'), tokenIds, media };
}
