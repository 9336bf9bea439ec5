/**
 * Calendar buckets in the browser's time zone, for hours per day or per week. Steps use Date
 * arithmetic (setDate), never fixed 24-hour steps, so days of 23 or 25 hours stay whole.
 * @module lib/bucket
 */

/**
 * Local midnight of the day of `ms`.
 * @param {number} ms
 * @returns {number}
 */
export function dayStart(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/**
 * Local midnight of the Monday of the week of `ms` (weeks start on Monday).
 * @param {number} ms
 * @returns {number}
 */
export function weekStart(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() - ((d.getDay() + 6) % 7));
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/**
 * The start of the bucket holding `ms`.
 * @param {number} ms
 * @param {'day'|'week'} period
 * @returns {number}
 */
export function bucketStart(ms, period) {
  return period === 'week' ? weekStart(ms) : dayStart(ms);
}

/**
 * The start of the bucket after the one starting at `startMs`.
 * @param {number} startMs a bucket start
 * @param {'day'|'week'} period
 * @returns {number}
 */
export function nextBucket(startMs, period) {
  const d = new Date(startMs);
  d.setDate(d.getDate() + (period === 'week' ? 7 : 1));
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Upper bound on buckets, so a stray timestamp cannot make millions of them. */
const MAX_BUCKETS = 20000;

/**
 * Sums durations into hours per bucket and per dimension value.
 *
 * Each point counts wholly in the bucket of its timestamp (an event's start). Buckets run
 * without gaps from the first to the last one that holds a point, widened to cover
 * `span` when given; empty buckets hold 0.
 *
 * @param {Array<{timestamp: number, value: number, dimensions?: Object<string, string>}>} points
 *   values in milliseconds
 * @param {'day'|'week'} period
 * @param {string|null} splitKey the dimension to split by; a point without it counts under
 *   `(none)`; a falsy key puts everything under `all`
 * @param {{from: number, to: number}} [span] a range to cover (`to` exclusive)
 * @returns {{buckets: number[], series: Map<string, number[]>}} bucket starts ascending; for
 *   each name the hours per bucket. Names come in descending order of total hours, ties by name.
 * @throws {Error} on an unknown period
 */
export function bucketHours(points, period, splitKey, span) {
  if (period !== 'day' && period !== 'week') throw new Error(`unknown period: ${period}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    if (p.timestamp < lo) lo = p.timestamp;
    if (p.timestamp > hi) hi = p.timestamp;
  }
  if (span && span.to > span.from) {
    lo = Math.min(lo, span.from);
    hi = Math.max(hi, span.to - 1);
  }
  const buckets = [];
  const index = new Map();
  if (lo <= hi) {
    const last = bucketStart(hi, period);
    for (let b = bucketStart(lo, period); b <= last && buckets.length < MAX_BUCKETS; b = nextBucket(b, period)) {
      index.set(b, buckets.length);
      buckets.push(b);
    }
  }
  const sums = new Map();
  for (const p of points) {
    const i = index.get(bucketStart(p.timestamp, period));
    if (i === undefined) continue;
    const name = seriesName(p, splitKey);
    let row = sums.get(name);
    if (!row) {
      row = new Array(buckets.length).fill(0);
      sums.set(name, row);
    }
    row[i] += p.value / 3.6e6;
  }
  const total = (row) => row.reduce((a, b) => a + b, 0);
  const names = [...sums.keys()].map((name) => [name, total(sums.get(name))]);
  names.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { buckets, series: new Map(names.map(([name]) => [name, sums.get(name)])) };
}

/**
 * The series a point belongs to when split by `splitKey`: its value of that dimension,
 * `(none)` without it, `all` when not split. Only own keys count (a key like `constructor`
 * must not reach Object.prototype).
 * @param {{dimensions?: Object<string, string>}} point
 * @param {string|null} splitKey
 * @returns {string}
 */
export function seriesName(point, splitKey) {
  if (!splitKey) return 'all';
  const dims = point.dimensions;
  return dims && Object.hasOwn(dims, splitKey) ? String(dims[splitKey]) : '(none)';
}
