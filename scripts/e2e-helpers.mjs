// Helpers the Node end-to-end scripts (oidc-e2e, live-e2e) share: a check
// that names what failed, and a wait with a deadline that names what it
// waited for.

/** Throws `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Rejects after `ms` with what was awaited. */
export function deadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
