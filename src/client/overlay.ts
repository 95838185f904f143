// A Proxy over an SDK object that replaces a few properties and passes
// everything else through untouched.
//
// `thisArg` decides what the passed-through methods see as `this`:
// - 'proxy' for resources (chat.completions, messages, ...): their helpers
//   call `this.create(...)` or `this._client.<resource>.create(...)`, and must
//   reach the metered create — so `_client` is overlaid too;
// - 'target' for the client itself, whose methods read #private fields that
//   a Proxy receiver does not have.

export type Overrides = Record<PropertyKey, (proxy: any) => unknown>;

export function overlay<T extends object>(target: T, overrides: Overrides, thisArg: 'proxy' | 'target'): T {
  const cache = new Map<PropertyKey, unknown>();
  const proxy: T = new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) {
        if (!cache.has(prop)) cache.set(prop, overrides[prop]!(proxy));
        return cache.get(prop);
      }
      const v = Reflect.get(t, prop, t);
      return typeof v === 'function' ? v.bind(thisArg === 'proxy' ? proxy : t) : v;
    },
  });
  return proxy;
}
