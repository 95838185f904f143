// What a wrapped client throws instead of calling the provider. Refusals are
// Tollgate's answer (the budget or a velocity cap says no); unavailability
// is a fault (Tollgate could not be asked) and only thrown when failing closed.

/** The budget that refused, as Tollgate's 402 body names it (`error.scope`). */
export interface RefusalScope {
  [field: string]: unknown;
}

/** Tollgate refused the call before the provider was called (402, 429, 400...). */
export class TollgateRefusedError extends Error {
  override readonly name: string = 'TollgateRefusedError';
  readonly code: string = 'TOLLGATE_REFUSED';
  constructor(
    message: string,
    /** HTTP status of Tollgate's answer. */
    readonly status: number,
    /** Tollgate's error type, e.g. `budget_exceeded`, `rate_limit_exceeded`, `model_not_priced`. */
    readonly type: string,
    /** Tollgate's whole error object. */
    readonly error: Record<string, unknown>,
    /** Seconds Tollgate asked to wait (velocity caps), when it said so. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** A budget in scope has no room for this call: the provider was not called. */
export class BudgetExceededError extends TollgateRefusedError {
  override readonly name = 'BudgetExceededError';
  override readonly code = 'TOLLGATE_BUDGET_EXCEEDED';
  constructor(message: string, error: Record<string, unknown>, readonly scope: RefusalScope | undefined) {
    super(message, 402, 'budget_exceeded', error);
  }
}

/** Tollgate could not be reached or failed (network, timeout, 5xx) and the wrapper fails closed. */
export class TollgateUnavailableError extends Error {
  override readonly name = 'TollgateUnavailableError';
  readonly code = 'TOLLGATE_UNAVAILABLE';
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}
