/**
 * The one place that talks to the server. Adds the session's token as a header (never in a
 * URL), parses JSON, and turns every non-2xx answer into an {@link ApiError} whose message is
 * a sentence for people. A 401 on the session's own token signs out.
 * @module api
 */

import { getSession, clearSession, setFlash } from './session.js';

/** What a 401 means to the person. */
export const UNKNOWN_TOKEN = 'This token is unknown or has expired.';

/** Shorthand for path segments: every name from the server is encoded. */
export const enc = encodeURIComponent;

/** A failed request: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 for a network failure
   * @param {string|null} detail the server's `detail`, if any
   * @param {number|null} retryAfter seconds from a `Retry-After` header, if any
   */
  constructor(status, detail, retryAfter = null) {
    super(messageFor(status, detail, retryAfter));
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

function messageFor(status, detail, retryAfter) {
  if (status === 401) return UNKNOWN_TOKEN;
  if (status === 0) return 'The server cannot be reached. Check the connection and try again.';
  if (status === 429) return `Too many requests: wait ${retryAfter ?? 10} s and try again.`;
  if (detail) return detail;
  if (status === 403) return 'This token may not do this.';
  if (status === 503) return 'The Google integration is not configured on this server.';
  return `The server answered ${status} without saying why.`;
}

/**
 * Parses a `Retry-After` header in seconds (the HTTP-date form is turned into seconds too).
 * @param {string|null} value
 * @returns {number|null}
 */
export function parseRetryAfter(value) {
  if (value === null || value === undefined || value === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Header values must be visible ASCII; anything else cannot be a token. */
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

function authHeaders(auth) {
  if (!auth) return {};
  if (!TOKEN_SHAPE.test(auth.token)) return null;
  return auth.kind === 'admin'
    ? { Authorization: `Bearer ${auth.token}` }
    : { 'X-Data-Token': auth.token };
}

function signOutExpired() {
  clearSession();
  setFlash(UNKNOWN_TOKEN);
  if (location.hash !== '#/signin') location.hash = '#/signin';
}

/**
 * Sends a request.
 * @param {'GET'|'POST'|'PUT'|'DELETE'} method
 * @param {string} path absolute path with query, names already encoded with {@link enc}
 * @param {Object} [options]
 * @param {*} [options.body] sent as JSON
 * @param {{kind: 'data'|'admin', token: string}} [options.auth] credentials to try instead of
 *   the session's (sign-in probes); a 401 then does not sign out
 * @param {AbortSignal} [options.signal]
 * @returns {Promise<*>} the parsed JSON answer, or null for an empty one
 * @throws {ApiError}
 */
export async function request(method, path, { body, auth, signal } = {}) {
  const probing = Boolean(auth);
  const credentials = auth || getSession();
  const headers = authHeaders(credentials);
  if (headers === null) throw new ApiError(401, null);
  headers.Accept = 'application/json';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'same-origin',
      referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, null);
  }
  if (res.ok) {
    const text = await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'the server answered with something that is not JSON');
    }
  }
  let detail = null;
  try {
    const answer = await res.json();
    if (answer && typeof answer.detail === 'string') detail = answer.detail;
  } catch {
    // Not JSON: the status alone speaks.
  }
  if (res.status === 401 && !probing && credentials) signOutExpired();
  throw new ApiError(res.status, detail, parseRetryAfter(res.headers.get('Retry-After')));
}

/**
 * Whether an error only means the page was left while a request ran.
 * @param {*} err
 * @returns {boolean}
 */
export function isAbort(err) {
  return Boolean(err) && err.name === 'AbortError';
}
