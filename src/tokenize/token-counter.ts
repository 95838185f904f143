import { Piscina } from 'piscina';
import { encodingForModel } from './encoding-for-model.js';

/**
 * Exact token counts from a small Piscina pool, used where the provider did
 * not report usage (client disconnect, cut stream, silent upstream). The
 * decision never waits on it: it uses the fast estimate.
 */
export class TokenCounter {
  #pool: Piscina | undefined;

  constructor(private readonly maxThreads = 1) {}

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

  count(model: string, texts: string[]): Promise<number[]> {
    return this.#get().run({ encoding: encodingForModel(model), texts });
  }

  get queueSize(): number {
    return this.#pool?.queueSize ?? 0;
  }

  async close(): Promise<void> {
    await this.#pool?.destroy();
  }
}

/** The text of a request's prompt, for counting: message contents, system, input. */
export function promptText(body: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 64) return;
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'image_url' || k === 'source' || k === 'type' || k === 'role') continue;
        walk(x, depth + 1);
      }
    }
  };
  walk(body.system, 0);
  walk(body.instructions, 0);
  walk(body.messages, 0);
  walk(body.input, 0);
  walk(body.tools, 0);
  return out.join('\n');
}
