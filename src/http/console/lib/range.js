/**
 * Time ranges for the data API: `from` inclusive, `to` exclusive, unix milliseconds.
 * @module lib/range
 */

/** One day of 24 hours in milliseconds (ranges of N days ignore DST on purpose). */
export const DAY_MS = 86400000;

/**
 * The last `days` days up to and including now.
 * @param {number} days positive
 * @param {number} [nowMs]
 * @returns {{from: number, to: number}} `to` is `nowMs + 1`, so a point at now is included
 * @throws {Error} when days is not a positive number
 */
export function rangeFor(days, nowMs = Date.now()) {
  const n = Number(days);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`Not a number of days: ${days}`);
  return { from: nowMs - n * DAY_MS, to: nowMs + 1 };
}

/**
 * Local midnight of a `YYYY-MM-DD` date.
 * @param {string} text
 * @returns {Date}
 * @throws {Error} when the text is not a real date (e.g. `2024-02-30`)
 */
export function parseLocalDate(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(text ?? '').trim());
  if (!m) throw new Error(`Not a date (YYYY-MM-DD): ${text}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const date = new Date(2000, 0, 1);
  date.setFullYear(y, mo, d);
  date.setHours(0, 0, 0, 0);
  if (date.getFullYear() !== y || date.getMonth() !== mo || date.getDate() !== d) {
    throw new Error(`Not a date: ${text}`);
  }
  return date;
}

/** Local midnight of the day after `date`'s day. */
function nextMidnight(date) {
  const next = new Date(date.getTime());
  next.setDate(next.getDate() + 1);
  next.setHours(0, 0, 0, 0);
  return next;
}

/**
 * The local days `fromText` to `toText`, both included.
 * @param {string} fromText `YYYY-MM-DD`
 * @param {string} toText `YYYY-MM-DD`
 * @returns {{from: number, to: number}} local midnight of `fromText`, local midnight of the
 *   day after `toText`
 * @throws {Error} on an invalid date or when `fromText` is after `toText`
 */
export function customRange(fromText, toText) {
  const from = parseLocalDate(fromText);
  const to = parseLocalDate(toText);
  if (from.getTime() > to.getTime()) throw new Error('The start date is after the end date.');
  return { from: from.getTime(), to: nextMidnight(to).getTime() };
}

/**
 * The local date of a moment as a date input wants it, `YYYY-MM-DD`.
 * @param {number} ms
 * @returns {string}
 */
export function toDateInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${String(d.getFullYear()).padStart(4, '0')}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The last second of a local day, as unix seconds (for token expiry dates).
 * @param {string} text `YYYY-MM-DD`
 * @returns {number} one second before the next local midnight
 * @throws {Error} on an invalid date
 */
export function endOfDaySeconds(text) {
  return Math.floor(nextMidnight(parseLocalDate(text)).getTime() / 1000) - 1;
}
