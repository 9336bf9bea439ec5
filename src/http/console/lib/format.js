/**
 * Formatting for people: durations, local dates and times, relative times, numbers.
 * Pure functions; dates use the browser's time zone, and a fixed `YYYY-MM-DD HH:MM` shape so
 * pages read the same in every locale.
 * @module lib/format
 */

const pad = (n) => String(n).padStart(2, '0');

/**
 * Local date, `YYYY-MM-DD`.
 * @param {number} ms unix milliseconds
 * @returns {string}
 */
export function formatDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * Local time of day, `HH:MM` (24 h).
 * @param {number} ms unix milliseconds
 * @returns {string}
 */
export function formatTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * Local date and time, `YYYY-MM-DD HH:MM`.
 * @param {number} ms unix milliseconds
 * @returns {string}
 */
export function formatDateTime(ms) {
  return `${formatDate(ms)} ${formatTime(ms)}`;
}

/**
 * A duration in words: `0 s`, `42 s`, `5 min`, `1 h 30 min`, `2 d 3 h`. Seconds show below
 * an hour only; the largest two units are kept and the rest is cut (not rounded).
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '-' : '';
  const total = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  let text;
  if (d > 0) text = h ? `${d} d ${h} h` : `${d} d`;
  else if (h > 0) text = m ? `${h} h ${m} min` : `${h} h`;
  else if (m > 0) text = sec ? `${m} min ${sec} s` : `${m} min`;
  else text = `${sec} s`;
  return sign + text;
}

/**
 * A time relative to now: `just now`, `5 min ago`, `in 3 h`, `2 d ago`.
 * @param {number} ms unix milliseconds
 * @param {number} [nowMs]
 * @returns {string}
 */
export function formatRelative(ms, nowMs = Date.now()) {
  const diff = ms - nowMs;
  const abs = Math.abs(diff);
  if (abs < 45000) return 'just now';
  let amount;
  if (abs < 3600000) amount = `${Math.round(abs / 60000)} min`;
  else if (abs < 48 * 3600000) amount = `${Math.round(abs / 3600000)} h`;
  else amount = `${Math.round(abs / 86400000)} d`;
  return diff < 0 ? `${amount} ago` : `in ${amount}`;
}

/**
 * A moment for status pages: `YYYY-MM-DD HH:MM (5 min ago)`, or `none` when absent.
 * @param {number|null|undefined} ms unix milliseconds
 * @param {string} [none] text when there is no moment
 * @param {number} [nowMs]
 * @returns {string}
 */
export function formatWhen(ms, none = '—', nowMs = Date.now()) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return none;
  return `${formatDateTime(ms)} (${formatRelative(ms, nowMs)})`;
}

/**
 * A datapoint value: integers as they are, others to six significant digits.
 * @param {number} v
 * @returns {string}
 */
export function formatValue(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

/**
 * Hours with one decimal: `1.5 h`.
 * @param {number} hours
 * @returns {string}
 */
export function formatHours(hours) {
  return `${Math.round(hours * 10) / 10} h`;
}

/**
 * Dimensions as `key=value, key=value`, keys sorted. Own keys only.
 * @param {Object<string, string>|undefined} dimensions
 * @returns {string}
 */
export function formatDimensions(dimensions) {
  if (!dimensions) return '';
  return Object.keys(dimensions).sort().map((k) => `${k}=${dimensions[k]}`).join(', ');
}

/**
 * A number for an axis label: `950`, `12.5k`, `3M`, `1.2G`, `0.25`.
 * @param {number} v
 * @returns {string}
 */
export function formatCompact(v) {
  const abs = Math.abs(v);
  const short = (x) => String(Number(x.toPrecision(3)));
  if (abs >= 1e9) return `${short(v / 1e9)}G`;
  if (abs >= 1e6) return `${short(v / 1e6)}M`;
  if (abs >= 1e4) return `${short(v / 1e3)}k`;
  return String(Number(v.toPrecision(4)));
}

/**
 * A duration for an axis label, one unit only: `45 s`, `30 min`, `1.5 h`, `2 d`.
 * @param {number} ms
 * @returns {string}
 */
export function formatDurationShort(ms) {
  const abs = Math.abs(ms);
  const short = (x) => String(Number(x.toPrecision(3)));
  if (abs >= 86400000) return `${short(ms / 86400000)} d`;
  if (abs >= 3600000) return `${short(ms / 3600000)} h`;
  if (abs >= 60000) return `${short(ms / 60000)} min`;
  return `${short(ms / 1000)} s`;
}
