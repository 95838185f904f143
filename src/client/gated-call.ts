// What a wrapped model call returns: a promise of the provider's answer that
// also keeps the SDK's APIPromise surface (`withResponse()`, `asResponse()`,
// and the `_thenUnwrap()` the SDKs' own helpers — `parse()`, `stream()` —
// call on it), so code and helpers written against the SDK keep working.

export interface WithResponse<T> {
  data: T;
  response: Response;
  request_id?: string | null;
}

export class GatedCall<T> implements PromiseLike<T> {
  #answer?: Promise<WithResponse<T>>;
  constructor(
    private readonly answer: () => Promise<WithResponse<T>>,
    private readonly raw: () => Promise<Response>,
  ) {}

  withResponse(): Promise<WithResponse<T>> {
    return (this.#answer ??= this.answer());
  }

  asResponse(): Promise<Response> {
    return this.raw();
  }

  then<A = T, B = never>(onfulfilled?: ((value: T) => A | PromiseLike<A>) | null, onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.withResponse().then((r) => r.data).then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.then(undefined, onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onfinally);
  }

  _thenUnwrap<U>(transform: (data: T, props: WithResponse<T>) => U): GatedCall<U> {
    return new GatedCall(async () => {
      const r = await this.withResponse();
      return { ...r, data: transform(r.data, r) };
    }, this.raw);
  }

  get [Symbol.toStringTag](): string {
    return 'GatedCall';
  }
}
