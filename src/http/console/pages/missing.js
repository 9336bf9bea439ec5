/**
 * Why missing?: the `#!` events of the last syncs that gave no datapoint, with the reason and
 * what to change in the event.
 * @module pages/missing
 */

import { h, setText, say } from '../dom.js';
import { request, isAbort } from '../api.js';
import { formatDateTime } from '../lib/format.js';

const EMPTY = 'Nothing skipped: every #! event of the last syncs gave all its datapoints.';

/** Reasons (as the converter words them) and what the person can do about them. */
const ADVICE = [
  [/no activity after #!/, 'Write the activity after #!, e.g. "#! Running".'],
  [/ends before it starts/, 'Fix the event\u2019s end time: it must not be before the start.'],
  [/all-day date and a date-time/, 'Make the event all-day, or give it a start and an end time.'],
  [/title too long/, 'Shorten the title.'],
  [/description too long/, 'Shorten the description.'],
  [/custom metrics in the description/, 'Use fewer name=number lines in the description.'],
  [/not a valid metric name/, 'Use a shorter name before the = in the description.'],
  [/not a valid dimension key/, 'Use a shorter key before the : in the description.'],
  [/not a finite number/, 'Write a smaller number after the = in the description.'],
  [/is not a number\)/, 'Write only a number after the =, e.g. "distance=10000" (the unit belongs in the name: "distance_m=10000").'],
  [/recurring series master/, 'Nothing to do: the occurrences of the series are converted one by one.'],
  [/beyond horizon/, 'Nothing to do: the event lies far in the future and is converted as it comes closer.'],
  [/no id|no (start|end) time|unparseable/, 'Google sent the event incomplete; editing and saving it again usually fixes it.'],
  [/dimension|value/, 'Use fewer or shorter key: value lines in the description.'],
];

/**
 * What the person can do about a skip reason.
 * @param {string} reason
 * @returns {string}
 */
export function adviceFor(reason) {
  const found = ADVICE.find(([pattern]) => pattern.test(String(reason)));
  return found ? found[1] : 'Edit the event so it follows the #! format, then wait for the next sync.';
}

function row(event) {
  return h('tr', {},
    h('td', { class: 'title wrap' }, event.title),
    h('td', { class: 'time' }, event.start === null || event.start === undefined ? '—' : formatDateTime(event.start)),
    h('td', { class: 'calendar wrap' }, event.calendar_id),
    h('td', { class: 'reason wrap' }, event.reason),
    h('td', { class: 'advice' }, adviceFor(event.reason)));
}

/** Mounts the page. */
export function mount(view, ctx) {
  const { signal } = ctx;
  const message = h('p', { id: 'message', class: 'message', role: 'alert' });
  const tbody = h('tbody');
  const table = h('table', { id: 'skipped', hidden: true },
    h('thead', {}, h('tr', {}, ['Event', 'Start', 'Calendar', 'Reason', 'What to do'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const empty = h('p', { id: 'skipped-empty', class: 'empty', hidden: true }, EMPTY);
  const note = h('p', { class: 'muted' });
  const refresh = h('button', { id: 'refresh', type: 'button', class: 'btn' }, 'Refresh');

  const load = async () => {
    refresh.disabled = true;
    try {
      const answer = await request('GET', '/oauth2/google/skipped', { signal });
      if (signal.aborted) return;
      const events = (answer && Array.isArray(answer.events)) ? answer.events : [];
      tbody.replaceChildren(...events.map(row));
      table.hidden = events.length === 0;
      empty.hidden = events.length > 0;
      setText(note, events.length ? `${events.length} event${events.length === 1 ? '' : 's'}, newest first.` : '');
      say(message, '');
    } catch (err) {
      if (!isAbort(err)) say(message, err.message);
    } finally {
      refresh.disabled = false;
    }
  };
  refresh.addEventListener('click', load);

  view.append(
    h('h1', { tabindex: -1 }, 'Why missing?'),
    h('p', {},
      'Events whose title starts with #! become datapoints. The events below were marked #! ',
      'but gave no datapoint in the last syncs (or lost a line of their description), each with the reason. Change the event in Google ',
      'Calendar; the next sync picks the change up.'),
    message, note,
    h('div', { class: 'table-wrap' }, table),
    empty,
    h('div', { class: 'actions' }, refresh));
  load();
  return {};
}
