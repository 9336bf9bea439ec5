/**
 * Tokens (operator): create data tokens (the plaintext is shown once), list, filter by user,
 * delete after a confirmation that says what deleting does.
 * @module pages/tokens
 */

import { h, setText, say, keepFocus } from '../dom.js';
import { request, enc, isAbort } from '../api.js';
import { endOfDaySeconds, toDateInput } from '../lib/range.js';
import { formatDateTime } from '../lib/format.js';

const DELETE_EFFECT = 'The token stops working at once. Its Google Calendar connection, if any, is disconnected and Google\u2019s grant revoked. The user\u2019s datapoints stay.';

function field(id, text, control, hint) {
  return h('div', { class: 'field stacked' }, h('label', { for: id }, text), control, hint ? h('small', { class: 'muted' }, hint) : null);
}

function tokenRow(t, onDelete) {
  const expired = t.expires_at * 1000 <= Date.now();
  return h('tr', { 'data-token-id': t.id },
    h('td', { class: 'wrap' }, t.user),
    h('td', { class: 'wrap' }, t.name),
    h('td', {}, t.capability),
    h('td', {}, formatDateTime(t.created_at * 1000)),
    h('td', { class: expired ? 'error-text' : '' }, formatDateTime(t.expires_at * 1000), expired ? ' (expired)' : ''),
    h('td', {}, h('button', {
      type: 'button', class: 'btn small danger delete-token', 'data-focus': `delete:${t.id}`,
      'aria-label': `Delete token ${t.name} of ${t.user}`, onclick: () => onDelete(t),
    }, 'Delete')));
}

/** Mounts the page. */
export function mount(view, ctx) {
  const { signal } = ctx;
  const message = h('p', { id: 'message', class: 'message', role: 'alert' });
  const user = h('input', { id: 'new-user', type: 'text', required: true, maxlength: 128, autocomplete: 'off' });
  const name = h('input', { id: 'new-name', type: 'text', required: true, maxlength: 128, autocomplete: 'off' });
  const capability = h('select', { id: 'new-capability' },
    h('option', { value: 'API' }, 'API'), h('option', { value: 'INGEST' }, 'INGEST'),
    h('option', { value: 'SUPER', selected: true }, 'SUPER'));
  const expiry = h('input', { id: 'new-expiry', type: 'date', min: toDateInput(Date.now() + 86400000) });
  const create = h('button', { id: 'create-token', type: 'submit', class: 'btn primary' }, 'Create token');
  const created = h('div', { id: 'created', class: 'card created', hidden: true });
  const filter = h('input', { id: 'user-filter', type: 'search', autocomplete: 'off' });
  const tbody = h('tbody');
  const count = h('p', { class: 'muted' });
  let pending = null;

  const load = async () => {
    const who = filter.value.trim();
    try {
      const list = await request('GET', who ? `/admin/tokens?user=${enc(who)}` : '/admin/tokens', { signal });
      if (signal.aborted || who !== filter.value.trim()) return;
      const tokens = Array.isArray(list) ? list : [];
      keepFocus(tbody, () => tbody.replaceChildren(...tokens.map((t) => tokenRow(t, openDelete))));
      setText(count, `${tokens.length} token${tokens.length === 1 ? '' : 's'}${who ? ` of ${who}` : ''}.`);
    } catch (err) {
      if (!isAbort(err)) say(message, err.message);
    }
  };

  const showPlaintext = (token) => {
    const plain = h('input', { id: 'plaintext', type: 'text', readonly: true, value: token.token_plaintext, class: 'mono', 'aria-label': 'The new token' });
    const copy = h('button', { id: 'copy-plaintext', type: 'button', class: 'btn' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(plain.value);
        say(message, 'Copied.', 'ok');
      } catch {
        plain.focus();
        plain.select();
        say(message, 'Press Ctrl+C (or \u2318C) to copy the selected token.', 'ok');
      }
    });
    created.replaceChildren(
      h('h2', {}, 'Token ', h('q', {}, token.name), ' for ', h('q', {}, token.user), ' created'),
      h('p', { class: 'warn' }, 'Copy it now: it is shown this once and never again.'),
      h('div', { class: 'row' }, plain, copy));
    created.hidden = false;
    plain.focus();
    plain.select();
  };

  const submit = async (e) => {
    e.preventDefault();
    const body = { user: user.value.trim(), name: name.value.trim(), capability: capability.value };
    if (!body.user || !body.name) {
      say(message, 'Give the token a user and a name.');
      (body.user ? name : user).focus();
      return;
    }
    if (expiry.value) {
      try {
        body.expires_at = endOfDaySeconds(expiry.value);
      } catch (err) {
        say(message, err.message);
        expiry.focus();
        return;
      }
    }
    create.disabled = true;
    try {
      const token = await request('POST', '/admin/tokens', { body, signal });
      say(message, '');
      name.value = '';
      showPlaintext(token);
      load();
    } catch (err) {
      if (!isAbort(err)) say(message, err.message);
    } finally {
      create.disabled = false;
    }
  };

  const confirmText = h('p');
  const dialog = h('dialog', { id: 'confirm-delete', 'aria-labelledby': 'confirm-delete-title' },
    h('h2', { id: 'confirm-delete-title' }, 'Delete this token?'),
    confirmText,
    h('p', {}, DELETE_EFFECT),
    h('div', { class: 'actions' },
      h('button', { id: 'confirm-delete-yes', type: 'button', class: 'btn danger', onclick: () => doDelete() }, 'Delete token'),
      h('button', { id: 'confirm-delete-no', type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Keep it')));
  function openDelete(token) {
    pending = token;
    confirmText.replaceChildren('Token ', h('q', {}, token.name), ' of user ', h('q', {}, token.user),
      ` (${token.capability}, id ${token.id}).`);
    dialog.showModal();
    document.getElementById('confirm-delete-no').focus();
  }
  async function doDelete() {
    dialog.close();
    const token = pending;
    pending = null;
    if (!token) return;
    try {
      await request('DELETE', `/admin/tokens/${enc(token.id)}`, { signal });
      say(message, `Token \u201c${token.name}\u201d of ${token.user} deleted.`, 'ok');
      load();
    } catch (err) {
      if (!isAbort(err)) say(message, err.message);
    }
  }

  let filterTimer = null;
  filter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(load, 250);
  });
  signal.addEventListener('abort', () => {
    clearTimeout(filterTimer);
    if (dialog.open) dialog.close();
    created.replaceChildren();
  });

  view.append(
    h('h1', { tabindex: -1 }, 'Data tokens'),
    message,
    h('form', { id: 'create-form', class: 'card', novalidate: true, onsubmit: submit },
      h('h2', {}, 'New token'),
      h('div', { class: 'form-grid' },
        field('new-user', 'User', user),
        field('new-name', 'Name', name, 'Unique per user, e.g. phone or google.'),
        field('new-capability', 'Capability', capability, 'API reads, INGEST writes, SUPER both. Connecting Google Calendar needs API or SUPER.'),
        field('new-expiry', 'Expires (optional)', expiry, 'At the end of that day; a year from now when empty.')),
      h('div', { class: 'actions' }, create)),
    created,
    h('h2', {}, 'Tokens'),
    h('div', { class: 'controls' }, h('span', { class: 'field' }, h('label', { for: 'user-filter' }, 'Filter by user'), filter)),
    count,
    h('div', { class: 'table-wrap' },
      h('table', { id: 'tokens' },
        h('thead', {}, h('tr', {}, ['User', 'Name', 'Capability', 'Created', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)),
    dialog);
  load();
  return {};
}
