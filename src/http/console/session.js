/**
 * The signed-in session and short-lived notes that survive a page load, all in
 * sessionStorage (never localStorage: a token must not outlive the tab).
 * @module session
 */

const SESSION_KEY = 'impulses-gcal.session';
const FLASH_KEY = 'impulses-gcal.flash';
const OAUTH_KEY = 'impulses-gcal.oauth';

function read(key) {
  try {
    const raw = sessionStorage.getItem(key);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

/**
 * The session, or null when signed out.
 * @returns {{kind: 'data'|'admin', token: string}|null}
 */
export function getSession() {
  const s = read(SESSION_KEY);
  if (s && (s.kind === 'data' || s.kind === 'admin') && typeof s.token === 'string' && s.token) {
    return { kind: s.kind, token: s.token };
  }
  return null;
}

/**
 * Signs in.
 * @param {'data'|'admin'} kind
 * @param {string} token
 */
export function setSession(kind, token) {
  write(SESSION_KEY, { kind, token });
}

/** Signs out. */
export function clearSession() {
  write(SESSION_KEY, null);
}

/** Leaves a sentence for the sign-in page (e.g. why the session ended). */
export function setFlash(text) {
  write(FLASH_KEY, text);
}

/** Takes the sentence left for the sign-in page, once. */
export function takeFlash() {
  const text = read(FLASH_KEY);
  write(FLASH_KEY, null);
  return typeof text === 'string' ? text : null;
}

/**
 * Remembers how the Google OAuth round trip ended, for the connection page's banner.
 * @param {{ok: boolean, tokenId?: string, tokenName?: string, detail?: string}} outcome
 */
export function setOauthOutcome(outcome) {
  write(OAUTH_KEY, outcome);
}

/** Takes the OAuth outcome, once. */
export function takeOauthOutcome() {
  const outcome = read(OAUTH_KEY);
  write(OAUTH_KEY, null);
  return outcome && typeof outcome === 'object' ? outcome : null;
}
