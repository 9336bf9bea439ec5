/**
 * Sign-in: one field for either kind of token. The kind is found by asking the server:
 * `GET /data` answers 200 (or 403, a token that may only write) to a data token; otherwise
 * `GET /admin/tokens` answers 200 to the admin token.
 * @module pages/signin
 */

import { h, say } from '../dom.js';
import { request, ApiError, UNKNOWN_TOKEN } from '../api.js';
import { setSession, takeFlash } from '../session.js';

/**
 * Which kind of token this is, or null when the server knows it as neither.
 * @param {string} token
 * @returns {Promise<'data'|'admin'|null>}
 * @throws {ApiError} when the server cannot tell (unreachable, 5xx)
 */
export async function detectKind(token) {
  try {
    await request('GET', '/data', { auth: { kind: 'data', token } });
    return 'data';
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 403) return 'data';
    if (err.status !== 401) throw err;
  }
  try {
    await request('GET', '/admin/tokens', { auth: { kind: 'admin', token } });
    return 'admin';
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
    throw err;
  }
}

/** Mounts the page. */
export function mount(view) {
  const input = h('input', {
    id: 'token-input', type: 'password', name: 'token', autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'message',
  });
  const button = h('button', { id: 'sign-in', type: 'submit', class: 'btn primary' }, 'Sign in');
  const message = h('p', { id: 'message', class: 'message', role: 'alert' });
  const flash = takeFlash();
  if (flash) say(message, flash);

  const submit = async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      say(message, 'Paste a token first.');
      input.focus();
      return;
    }
    button.disabled = true;
    say(message, 'Checking the token…', 'ok');
    try {
      const kind = await detectKind(token);
      if (!kind) {
        say(message, UNKNOWN_TOKEN);
        input.focus();
        return;
      }
      setSession(kind, token);
      input.value = '';
      location.hash = '#/';
    } catch (err) {
      say(message, err.message);
    } finally {
      button.disabled = false;
    }
  };

  view.append(
    h('h1', { tabindex: -1 }, 'Sign in'),
    h('form', { class: 'card narrow', novalidate: true, onsubmit: submit },
      h('p', { class: 'muted' },
        'Use the data token the operator gave you to connect Google Calendar and read your metrics, ',
        'or the admin token to watch the sync actors and manage tokens. ',
        'The token stays in this tab only.'),
      h('label', { for: 'token-input' }, 'Data token or admin token'),
      h('div', { class: 'row' }, input, button),
      message),
  );
  input.focus();
  return {};
}
