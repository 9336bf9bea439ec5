/**
 * Actors (operator): the supervisor's summary and one row per sync actor, with a sync button.
 * Refreshes every 3 s while shown.
 * @module pages/actors
 */

import { h, setText, say, keepFocus, loadNotice } from '../dom.js';
import { request, enc, isAbort } from '../api.js';
import { formatWhen, formatDateTime, formatDuration, formatRelative } from '../lib/format.js';

const REFRESH_MS = 3000;
const KNOWN_STATES = ['idle', 'syncing', 'backoff', 'needs_reauth', 'error', 'expired', 'stopped'];

function supervisorFacts(sup) {
  const byState = Object.keys(sup.by_state || {}).sort().map((k) => `${k}: ${sup.by_state[k]}`).join(', ') || 'none';
  const facts = [
    ['Actors', sup.actor_count],
    ['By state', byState],
    ['Restarts after a panic', sup.restarts],
    ['Poll interval', formatDuration(sup.poll_interval_secs * 1000)],
    ['Started', formatWhen(sup.started_at * 1000)],
  ];
  return facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]);
}

/** A table cell with a relative time, the local date and time as its tooltip. */
function moment(ms, none) {
  if (ms === null || ms === undefined) return h('td', { class: 'muted' }, none);
  return h('td', { class: 'time', title: formatDateTime(ms) }, formatRelative(ms));
}

function actorRow(a, onSync) {
  const next = a.state === 'backoff' && a.backoff_until ? a.backoff_until : a.next_sync;
  return h('tr', { 'data-token-id': a.token_id },
    h('td', { class: 'wrap' }, a.user),
    h('td', { class: 'wrap' }, a.token_name),
    h('td', { class: 'wrap' }, a.google_account),
    h('td', {}, h('span', { class: `state state-${a.state}` }, a.state)),
    moment(a.last_sync_end, 'never'),
    moment(next, 'not planned'),
    h('td', { class: 'num' }, a.consecutive_failures),
    h('td', { class: 'wrap error-text' }, a.last_error || ''),
    h('td', { class: 'num' }, a.events),
    h('td', { class: 'num' }, a.datapoints),
    h('td', {}, h('button', {
      type: 'button', class: 'btn small sync-now', 'data-focus': `sync:${a.token_id}`,
      'aria-label': `Sync now: ${a.user} / ${a.token_name}`, onclick: (e) => onSync(a, e.currentTarget),
    }, 'Sync now')));
}

/** Mounts the page. */
export function mount(view, ctx) {
  const { signal } = ctx;
  const message = h('p', { id: 'message', class: 'message', role: 'alert' });
  const supervisor = h('dl', { id: 'supervisor', class: 'facts card' });
  const filter = h('select', { id: 'state-filter' }, h('option', { value: 'all' }, 'all'));
  const tbody = h('tbody');
  const count = h('p', { class: 'muted' });
  const columns = ['User', 'Token', 'Google account', 'State', 'Last sync', 'Next sync', 'Failures in a row', 'Last error', 'Events', 'Datapoints', ''];
  let last = null;
  let stateList = '';
  const notice = loadNotice(message);

  const onSync = async (actor, button) => {
    button.disabled = true;
    try {
      await request('POST', `/admin/actors/${enc(actor.token_id)}/sync`, { signal });
      say(message, `Sync started for ${actor.user} / ${actor.token_name}.`, 'ok');
      poll.now();
    } catch (err) {
      if (!isAbort(err)) say(message, `${actor.user} / ${actor.token_name}: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  };

  const render = () => {
    if (!last) return;
    const states = new Set([...KNOWN_STATES, ...Object.keys(last.supervisor.by_state || {}), ...last.actors.map((a) => a.state)]);
    if ([...states].join('\n') !== stateList) {
      stateList = [...states].join('\n');
      const chosen = filter.value;
      filter.replaceChildren(h('option', { value: 'all' }, 'all'),
        ...[...states].map((st) => h('option', { value: st }, st)));
      filter.value = states.has(chosen) ? chosen : 'all';
    }
    supervisor.replaceChildren(...supervisorFacts(last.supervisor));
    const shown = last.actors.filter((a) => filter.value === 'all' || a.state === filter.value);
    keepFocus(tbody, () => tbody.replaceChildren(...shown.map((a) => actorRow(a, onSync))));
    setText(count, `${shown.length} of ${last.actors.length} actor${last.actors.length === 1 ? '' : 's'} shown.`);
  };

  const load = async () => {
    try {
      const answer = await request('GET', '/admin/actors', { signal });
      if (signal.aborted) return;
      last = { supervisor: answer.supervisor || {}, actors: Array.isArray(answer.actors) ? answer.actors : [] };
      render();
      notice.ok();
    } catch (err) {
      if (isAbort(err)) return;
      notice.failed(err);
    }
  };
  filter.addEventListener('change', render);

  view.append(
    h('h1', { tabindex: -1 }, 'Sync actors'),
    message,
    h('h2', {}, 'Supervisor'), supervisor,
    h('h2', {}, 'Actors'),
    h('div', { class: 'controls' }, h('span', { class: 'field' }, h('label', { for: 'state-filter' }, 'State'), filter)),
    count,
    h('div', { class: 'table-wrap' },
      h('table', { id: 'actors' },
        h('thead', {}, h('tr', {}, columns.map((t) => h('th', { scope: 'col' }, t)))),
        tbody)));
  const poll = ctx.every(REFRESH_MS, load);
  return {};
}
