/**
 * The console's entry point: takes a token or an OAuth outcome from the URL (and removes it
 * at once), routes hash URLs (`#/metrics?metric=weight`) to page modules, and keeps the
 * header in step with the session.
 *
 * A page module exports `mount(view, ctx)` returning `{update?(params)}`; `ctx.signal` aborts
 * when the page is left, which stops its requests and timers.
 * @module app
 */

import { getSession, setSession, clearSession, setOauthOutcome } from './session.js';
import * as signin from './pages/signin.js';
import * as connection from './pages/connection.js';
import * as metrics from './pages/metrics.js';
import * as missing from './pages/missing.js';
import * as actors from './pages/actors.js';
import * as tokens from './pages/tokens.js';

const ROUTES = {
  signin: { page: signin, kind: null, title: 'Sign in' },
  connection: { page: connection, kind: 'data', title: 'Connection' },
  metrics: { page: metrics, kind: 'data', title: 'Metrics' },
  missing: { page: missing, kind: 'data', title: 'Why missing?' },
  actors: { page: actors, kind: 'admin', title: 'Actors' },
  tokens: { page: tokens, kind: 'admin', title: 'Tokens' },
};

/** Where each kind of session lands. */
const HOME = { data: 'connection', admin: 'actors' };

const view = document.getElementById('view');
let current = null;

/** `/tokens?google_oauth2=…` is where Google's consent ends: note the outcome, clean the URL. */
function takeOauthReturn() {
  if (location.pathname !== '/tokens') return;
  const q = new URLSearchParams(location.search);
  const outcome = q.get('google_oauth2');
  if (outcome === 'authorized') {
    setOauthOutcome({ ok: true, tokenId: q.get('token_id') || '', tokenName: q.get('token_name') || '' });
  } else if (outcome === 'error') {
    setOauthOutcome({ ok: false, detail: q.get('detail') || 'no reason given' });
  }
  history.replaceState(null, '', outcome ? '/#/connection' : `/${location.hash}`);
}

/** `#token=…` (data token) or `#admin=…` (admin token) signs in; the token leaves the URL at once. */
function takeTokenFromHash() {
  const m = /^#(token|admin)=([^&]*)/.exec(location.hash);
  if (!m) return;
  let token = m[2];
  try {
    token = decodeURIComponent(token);
  } catch {
    // Not %-encoded: take it as it is.
  }
  const kind = m[1] === 'admin' ? 'admin' : 'data';
  history.replaceState(null, '', `${location.pathname}${location.search}#/${HOME[kind]}`);
  if (token) setSession(kind, token);
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  return {
    name: q < 0 ? raw : raw.slice(0, q),
    params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
  };
}

function updateHeader(session, name) {
  const who = document.getElementById('who');
  who.textContent = session ? (session.kind === 'admin' ? 'Operator' : 'Data token') : '';
  document.getElementById('sign-out').hidden = !session;
  for (const link of document.querySelectorAll('#nav a[data-kind]')) {
    link.hidden = !session || link.dataset.kind !== session.kind;
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/**
 * Repeats `fn` every `ms` after each run ends, until `signal` aborts; skips runs while the
 * tab is hidden. The first run is immediate.
 * @returns {{now: function(): void}} `now()` runs at once and restarts the wait
 */
function every(signal, ms, fn) {
  let timer = null;
  const tick = async () => {
    clearTimeout(timer);
    timer = null;
    try {
      if (!document.hidden) await fn();
    } finally {
      if (!signal.aborted && timer === null) timer = setTimeout(tick, ms);
    }
  };
  signal.addEventListener('abort', () => clearTimeout(timer));
  tick();
  return { now: tick };
}

function go(name) {
  history.replaceState(null, '', `${location.pathname}${location.search}#/${name}`);
}

function route(byUser) {
  const session = getSession();
  let { name, params } = parseHash();
  if (!session && name !== 'signin') {
    go('signin');
    name = 'signin';
  } else if (session && (!ROUTES[name] || ROUTES[name].kind !== session.kind)) {
    name = HOME[session.kind];
    go(name);
    params = new URLSearchParams();
  }
  updateHeader(session, name);
  if (current && current.name === name && current.instance.update) {
    current.instance.update(params);
    return;
  }
  if (current) current.controller.abort();
  const controller = new AbortController();
  view.replaceChildren();
  const ctx = {
    session,
    params,
    signal: controller.signal,
    every: (ms, fn) => every(controller.signal, ms, fn),
  };
  current = { name, controller, instance: ROUTES[name].page.mount(view, ctx) || {} };
  document.title = `${ROUTES[name].title} · impulses-gcal`;
  if (byUser && !view.contains(document.activeElement)) view.querySelector('h1')?.focus();
}

document.getElementById('sign-out').addEventListener('click', () => {
  clearSession();
  location.hash = '#/signin';
});
window.addEventListener('hashchange', () => {
  takeTokenFromHash();
  route(true);
});

takeOauthReturn();
takeTokenFromHash();
route(false);
