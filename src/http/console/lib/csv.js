/**
 * Datapoints as CSV (RFC 4180: comma, double quotes, CRLF), safe to open in a spreadsheet.
 * @module lib/csv
 */

/** Leading characters that make a spreadsheet read a cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One text cell: a leading `= + - @` (or tab, CR) gets a `'` in front so no spreadsheet runs
 * it as a formula; cells with a comma, quote or line break are quoted, quotes doubled.
 * @param {*} value
 * @returns {string}
 */
export function csvCell(value) {
  let text = value === null || value === undefined ? '' : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  if (/[",\r\n]/.test(text)) text = `"${text.replace(/"/g, '""')}"`;
  return text;
}

function isoTime(ms) {
  try {
    return new Date(ms).toISOString();
  } catch {
    return '';
  }
}

/**
 * The points as CSV: a header `timestamp_ms,time_iso,value`, then one column per dimension key
 * seen in any point (sorted); one line per point in the given order; every line ends in CRLF.
 * `timestamp_ms`, `time_iso` (UTC) and `value` are numbers the console writes itself and are
 * never prefixed (a negative value stays `-1.5`); header names and dimension values are text
 * cells (see {@link csvCell}). A point without a key has an empty cell.
 * @param {Array<{timestamp: number, value: number, dimensions?: Object<string, string>}>} points
 * @returns {string}
 */
export function toCsv(points) {
  const keys = new Set();
  for (const p of points) if (p.dimensions) for (const k of Object.keys(p.dimensions)) keys.add(k);
  const columns = [...keys].sort();
  const lines = [['timestamp_ms', 'time_iso', 'value', ...columns].map(csvCell).join(',')];
  for (const p of points) {
    const dims = p.dimensions || {};
    const cells = [String(p.timestamp), isoTime(p.timestamp), String(p.value)];
    for (const k of columns) cells.push(Object.hasOwn(dims, k) ? csvCell(dims[k]) : '');
    lines.push(cells.join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
