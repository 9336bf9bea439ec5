/**
 * The data token's Google Calendar connection: its state in words, counts, the calendars it
 * syncs, and the actions (connect, sync now, choose calendars, disconnect). Refreshes every
 * 5 s while shown.
 * @module pages/connection
 */

import { h, setText, say, keepFocus, loadNotice } from '../dom.js';
import { request, enc, isAbort } from '../api.js';
import { takeOauthOutcome } from '../session.js';
import { formatWhen, formatTime } from '../lib/format.js';

const REFRESH_MS = 5000;

/** The first error among the connection's summary and its calendars. */
function lastError(entry) {
  if (entry.sync && entry.sync.last_error) return entry.sync.last_error;
  const failing = (entry.calendars || []).find((c) => c.last_error);
  return failing ? failing.last_error : null;
}

/**
 * A connection's state in words.
 * @param {Object|null} entry an entry of `GET /oauth2/google/configs`, null when not connected
 * @returns {string}
 */
export function describeState(entry) {
  if (!entry) return 'Not connected';
  switch (entry.status) {
    case 'ok': return 'Syncing normally';
    case 'syncing': return 'Syncing now';
    case 'pending': return 'Connected; first sync pending';
    case 'retrying': {
      const at = entry.retry_at ? formatTime(entry.retry_at * 1000) : 'soon';
      return `Google is rate-limiting or unavailable; next try at ${at}`;
    }
    case 'error': return `The last sync failed: ${lastError(entry) || 'no reason given'}`;
    case 'needs_reauth': return `Needs you to reconnect: ${lastError(entry) || 'Google refused the refresh token'}`;
    case 'expired': return 'This data token has expired';
    default: return String(entry.status);
  }
}

/** Totals over the selected calendars (the summary holds the primary's only). */
function totals(entry) {
  const cals = entry.calendars || [];
  if (!cals.length) return { events: entry.sync?.events ?? 0, datapoints: entry.sync?.datapoints ?? 0 };
  return cals.reduce((t, c) => ({ events: t.events + (c.events || 0), datapoints: t.datapoints + (c.datapoints || 0) }),
    { events: 0, datapoints: 0 });
}

/** Attributes giving the first connection the ids tests and links use, every one a class. */
const named = (first, name, extra = {}) => ({ ...extra, class: [name, extra.class].filter(Boolean).join(' '), id: first ? name : undefined });

function fact(label, value, attrs) {
  return [h('dt', {}, label), h('dd', attrs, value)];
}

function calendarTable(cals) {
  if (!cals.length) return null;
  const rows = cals.map((c) => h('tr', {},
    h('td', { class: 'wrap' }, c.calendar_id, c.gone ? ' (gone from Google)' : ''),
    h('td', {}, c.state),
    h('td', {}, formatWhen(c.last_success, 'not yet')),
    h('td', { class: 'num' }, c.events),
    h('td', { class: 'num' }, c.datapoints),
    h('td', {}, c.push ? c.push.state : '—'),
    h('td', { class: 'wrap' }, c.last_error || (c.push && c.push.error) || '')));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'calendars' },
      h('caption', {}, 'Calendars synced'),
      h('thead', {}, h('tr', {}, ['Calendar', 'State', 'Last success', 'Events', 'Datapoints', 'Push', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)));
}

function connectionSection(entry, first, onDisconnect) {
  const t = totals(entry);
  const err = lastError(entry);
  return h('section', { class: 'card connection', 'aria-label': `Connection of token ${entry.token_name}` },
    h('h2', {}, 'Google account ', h('span', named(first, 'account'), entry.account_email)),
    h('dl', { class: 'facts' },
      fact('State', describeState(entry), named(first, 'connection-state', { class: `state state-${entry.status}` })),
      fact('Data token', entry.token_name, {}),
      fact('Last sync', formatWhen(entry.sync?.last_sync_at ? entry.sync.last_sync_at * 1000 : null, 'not yet'), named(first, 'last-sync')),
      fact('Next sync', formatWhen(entry.next_sync_at ? entry.next_sync_at * 1000 : null, 'not planned'), named(first, 'next-sync')),
      fact('Events', t.events, named(first, 'events-count')),
      fact('Datapoints', t.datapoints, named(first, 'datapoints-count')),
      fact('Last error', err || 'none', named(first, 'last-error', { class: err ? 'error-text' : '' }))),
    calendarTable(entry.calendars || []),
    h('div', { class: 'actions' },
      h('button', named(first, 'disconnect', { type: 'button', class: 'btn danger', 'data-focus': `disconnect:${entry.token_id}`, onclick: () => onDisconnect(entry) }), 'Disconnect')));
}

function notConnectedSection() {
  return h('section', { class: 'card connection' },
    h('h2', {}, 'Google Calendar'),
    h('dl', { class: 'facts' }, fact('State', 'Not connected', { id: 'connection-state', class: 'connection-state state' })),
    h('p', { class: 'muted' },
      'Connect a Google account to turn calendar events whose title starts with #! into datapoints, ',
      'e.g. an event "#! Running" becomes an imp.events.duration point with activity=Running.'));
}

/** The dialog asking whether to keep the datapoints when disconnecting. */
function disconnectDialog(onChoice) {
  const dialog = h('dialog', { id: 'disconnect-dialog', 'aria-labelledby': 'disconnect-title' },
    h('h2', { id: 'disconnect-title' }, 'Disconnect Google Calendar?'),
    h('p', {}, 'Syncing stops and Google\u2019s grant is revoked. The datapoints made from the calendar\u2019s events can stay, or be deleted now.'),
    h('div', { class: 'actions' },
      h('button', { id: 'disconnect-keep', type: 'button', class: 'btn', onclick: () => onChoice(false) }, 'Disconnect, keep datapoints'),
      h('button', { id: 'disconnect-delete', type: 'button', class: 'btn danger', onclick: () => onChoice(true) }, 'Disconnect, delete datapoints'),
      h('button', { id: 'disconnect-cancel', type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel')));
  return dialog;
}

/** Mounts the page. */
export function mount(view, ctx) {
  const { signal } = ctx;
  const outcome = takeOauthOutcome();
  const banner = h('p', { id: 'banner', role: 'status', class: 'banner', hidden: true });
  const message = h('p', { id: 'message', class: 'message', role: 'alert' });
  const sections = h('div', { class: 'connections' });
  const connect = h('button', { id: 'connect', type: 'button', class: 'btn primary', hidden: true }, 'Connect Google Calendar');
  const syncNow = h('button', { id: 'sync-now', type: 'button', class: 'btn' }, 'Sync now');
  const choose = h('button', { id: 'choose-calendars', type: 'button', class: 'btn', hidden: true, 'aria-expanded': 'false' }, 'Choose calendars…');
  const picker = h('div', { id: 'calendar-picker-box' });
  let target = null;
  let loaded = false;
  const notice = loadNotice(message);

  const showBanner = (entries) => {
    if (!outcome || loaded) return;
    if (outcome.ok) {
      const entry = entries.find((e) => e.token_id === outcome.tokenId) || entries[0];
      setText(banner, entry ? `Google Calendar connected as ${entry.account_email}` : 'Google Calendar connected');
    } else {
      setText(banner, `Connecting Google Calendar failed: ${outcome.detail}`);
      banner.classList.add('error');
    }
    banner.hidden = false;
  };

  const render = (entries) => {
    keepFocus(sections, () => {
      sections.replaceChildren(...(entries.length
        ? entries.map((e, i) => connectionSection(e, i === 0, openDisconnect))
        : [notConnectedSection()]));
    });
    const reauth = entries.some((e) => e.status === 'needs_reauth');
    connect.hidden = entries.length > 0 && !reauth;
    setText(connect, reauth ? 'Reconnect' : 'Connect Google Calendar');
    const usable = entries.some((e) => e.status !== 'needs_reauth' && e.status !== 'expired');
    choose.hidden = !usable;
  };

  const load = async () => {
    if (dialog.open) return;
    try {
      const entries = await request('GET', '/oauth2/google/configs', { signal });
      if (signal.aborted) return;
      const list = Array.isArray(entries) ? entries : [];
      showBanner(list);
      loaded = true;
      render(list);
      notice.ok();
    } catch (err) {
      if (isAbort(err)) return;
      notice.failed(err);
    }
  };

  const act = async (button, work) => {
    button.disabled = true;
    try {
      await work();
    } catch (err) {
      if (!isAbort(err)) say(message, err.status === 429 ? `Wait ${err.retryAfter ?? 10} s before syncing again.` : err.message);
    } finally {
      button.disabled = false;
    }
  };

  connect.addEventListener('click', () => act(connect, async () => {
    say(message, '');
    const answer = await request('GET', '/oauth2/google/auth', { signal });
    if (!answer || typeof answer.url !== 'string') throw new Error('The server sent no address for Google.');
    const url = new URL(answer.url, location.href);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('The server sent an address that is not a web page.');
    location.assign(url.href);
  }));

  syncNow.addEventListener('click', () => act(syncNow, async () => {
    await request('POST', '/oauth2/google/sync', { signal });
    say(message, 'Sync started.', 'ok');
    poll.now();
  }));

  const dialog = disconnectDialog(async (purge) => {
    dialog.close();
    if (!target) return;
    const entry = target;
    target = null;
    try {
      await request('DELETE', `/oauth2/google/configs/${enc(entry.token_id)}?purge=${purge}`, { signal });
      say(message, purge ? 'Disconnected; the calendar\u2019s datapoints were deleted.' : 'Disconnected; the calendar\u2019s datapoints were kept.', 'ok');
      picker.replaceChildren();
      poll.now();
    } catch (err) {
      if (!isAbort(err)) say(message, err.message);
    }
  });
  function openDisconnect(entry) {
    target = entry;
    dialog.showModal();
    document.getElementById('disconnect-cancel').focus();
  }
  signal.addEventListener('abort', () => { if (dialog.open) dialog.close(); });

  choose.addEventListener('click', () => {
    if (picker.firstChild) {
      picker.replaceChildren();
      choose.setAttribute('aria-expanded', 'false');
      return;
    }
    act(choose, async () => {
      const answer = await request('GET', '/oauth2/google/calendars', { signal });
      if (signal.aborted) return;
      picker.replaceChildren(calendarPicker(answer.calendars || [], save, () => {
        picker.replaceChildren();
        choose.setAttribute('aria-expanded', 'false');
        choose.focus();
      }));
      choose.setAttribute('aria-expanded', 'true');
      picker.querySelector('input:not([disabled])')?.focus();
    });
  });
  async function save(ids, button) {
    await act(button, async () => {
      await request('PUT', '/oauth2/google/calendars', { body: { selected: ids }, signal });
      say(message, 'Calendar selection saved; the next sync follows it.', 'ok');
      picker.replaceChildren();
      choose.setAttribute('aria-expanded', 'false');
      poll.now();
    });
  }

  view.append(
    h('h1', { tabindex: -1 }, 'Google Calendar connection'),
    banner, message, sections,
    h('div', { class: 'actions' }, connect, syncNow, choose),
    picker, dialog);
  const poll = ctx.every(REFRESH_MS, load);
  return {};
}

/** Checkboxes for the calendars to sync; free/busy-only calendars cannot be chosen. */
function calendarPicker(calendars, onSave, onCancel) {
  const boxes = calendars.map((c, i) => {
    const freeBusy = c.access_role === 'freeBusyReader';
    const id = `cal-${i}`;
    const notes = [c.primary && 'primary', c.time_zone, freeBusy && 'free/busy only: cannot be synced', c.gone && 'gone from Google']
      .filter(Boolean).join(' · ');
    return h('div', { class: 'check' },
      h('input', { type: 'checkbox', id, value: c.id, checked: c.selected && !freeBusy, disabled: freeBusy }),
      h('label', { for: id }, c.summary || c.id, notes ? h('span', { class: 'muted' }, ` (${notes})`) : null));
  });
  const saveButton = h('button', { id: 'save-calendars', type: 'submit', class: 'btn primary' }, 'Save selection');
  const form = h('form', {
    class: 'card', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const ids = [...form.querySelectorAll('input[type=checkbox]:checked')].map((b) => b.value);
      onSave(ids, saveButton);
    },
  },
  h('fieldset', { id: 'calendar-picker' },
    h('legend', {}, 'Calendars to sync'),
    boxes.length ? boxes : h('p', { class: 'muted' }, 'Google lists no calendars for this account.')),
  h('div', { class: 'actions' }, saveButton,
    h('button', { type: 'button', class: 'btn', onclick: onCancel }, 'Cancel')));
  return form;
}
