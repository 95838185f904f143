/** What a monitoring handler answers: also what crosses the shard link. */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
