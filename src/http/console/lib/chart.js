/**
 * SVG charts drawn by hand: a line chart with a pointer/keyboard readout, and stacked bars.
 * Works on DOM nodes, never fetches. The SVG has a viewBox as wide as its container in
 * pixels and scales with CSS (`width: 100%`), so it never overflows a narrow screen.
 * @module lib/chart
 */

import { s } from '../dom.js';
import { downsample } from './downsample.js';
import { formatDate, formatTime, formatCompact } from './format.js';
import { dayStart, weekStart } from './bucket.js';

/** Series colours, told apart by most colour-blind people in this order. */
export const PALETTE = [
  '#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed',
  '#0891b2', '#db2777', '#65a30d', '#92400e', '#475569',
];

const MARGIN = { left: 62, right: 14, top: 12, bottom: 30 };
const HOUR = 3600000;
const DAY = 86400000;

/** Steps a duration axis may use, in ms: seconds, minutes, hours, days. */
const DURATION_STEPS = [1, 5, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]
  .map((sec) => sec * 1000);

/**
 * Round tick values covering `lo..hi`: 1, 2, 2.5 or 5 times a power of ten apart.
 * @param {number} lo
 * @param {number} hi
 * @param {number} count roughly how many ticks
 * @returns {{lo: number, hi: number, ticks: number[]}} the widened domain and its ticks
 */
export function niceTicks(lo, hi, count) {
  return ticksWith(lo, hi, count, (raw) => {
    const mag = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 2.5, 5, 10].map((f) => f * mag).find((x) => x >= raw) || 10 * mag;
  });
}

/**
 * Tick values for durations in ms, on whole seconds, minutes, hours or days.
 * @param {number} lo
 * @param {number} hi
 * @param {number} count roughly how many ticks
 * @returns {{lo: number, hi: number, ticks: number[]}}
 */
export function durationTicks(lo, hi, count) {
  const top = DURATION_STEPS[DURATION_STEPS.length - 1];
  return ticksWith(lo, hi, count, (raw) => DURATION_STEPS.find((x) => x >= raw) || Math.ceil(raw / top) * top);
}

function ticksWith(lo, hi, count, stepFor) {
  let a = lo;
  let b = hi;
  if (!(b > a)) {
    const pad = Math.abs(a) * 0.1 || 1;
    a -= pad;
    b += pad;
  }
  const step = stepFor((b - a) / Math.max(1, count));
  const start = Math.floor(a / step) * step;
  const end = Math.ceil(b / step) * step;
  const ticks = [];
  for (let i = 0; start + i * step <= end + step / 2 && i < 50; i++) {
    ticks.push(Number((start + i * step).toPrecision(12)));
  }
  return { lo: start, hi: end, ticks };
}

/**
 * Time ticks on local hour, day or week boundaries between `from` and `to`.
 * @param {number} from
 * @param {number} to
 * @param {number} maxTicks
 * @returns {Array<{t: number, label: string}>}
 */
export function timeTicks(from, to, maxTicks) {
  const steps = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 364 * DAY];
  const span = to - from;
  const step = steps.find((st) => span / st <= Math.max(1, maxTicks)) || steps[steps.length - 1];
  const ticks = [];
  const d = new Date(from);
  if (step < DAY) {
    const hours = step / HOUR;
    d.setMinutes(0, 0, 0);
    for (let guard = 0; (d.getTime() < from || d.getHours() % hours) && guard < 48; guard++) {
      d.setHours(d.getHours() + 1);
    }
    for (; d.getTime() < to && ticks.length < 60; d.setHours(d.getHours() + hours)) {
      const t = d.getTime();
      ticks.push({ t, label: d.getHours() === 0 ? formatDate(t).slice(5) : formatTime(t) });
    }
  } else {
    const days = step / DAY;
    d.setTime(step >= 7 * DAY ? weekStart(from) : dayStart(from));
    while (d.getTime() < from) d.setDate(d.getDate() + days);
    for (; d.getTime() < to && ticks.length < 60; d.setDate(d.getDate() + days)) {
      const t = d.getTime();
      ticks.push({ t, label: step >= 91 * DAY ? formatDate(t) : formatDate(t).slice(5) });
    }
  }
  return ticks;
}

/** Drawing width in pixels: the container's, so one viewBox unit is one pixel. */
function widthOf(container) {
  return Math.max(280, Math.round(container.clientWidth || 720));
}

function emptyNote(svg, w, h, text) {
  svg.appendChild(s('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle', class: 'empty-note' }, text));
}

function yAxis(svg, yt, Y, x0, x1, formatValue) {
  for (const v of yt.ticks) {
    const y = Y(v);
    svg.appendChild(s('line', { x1: x0, x2: x1, y1: y, y2: y, class: 'grid' }));
    svg.appendChild(s('text', { x: x0 - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, formatValue(v)));
  }
}

/** Index of the drawn point nearest to (x, y); `all` is sorted by x. */
function nearest(all, x, y) {
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid].x < x) lo = mid + 1;
    else hi = mid;
  }
  let best = -1;
  let bestD = Infinity;
  const consider = (i) => {
    const dx = all[i].x - x;
    const dy = all[i].y - y;
    const dist = dx * dx + dy * dy;
    if (dist < bestD) {
      bestD = dist;
      best = i;
    }
    return dx * dx < bestD;
  };
  for (let i = lo; i < all.length && consider(i); i++);
  for (let i = lo - 1; i >= 0 && consider(i); i--);
  return best;
}

/**
 * The size of a chart in `container` and its plot area within the margins: `narrow` high on
 * a phone-sized width, `wide` high otherwise.
 * @param {HTMLElement} container
 * @param {number} narrow
 * @param {number} wide
 */
function frame(container, narrow, wide) {
  const W = widthOf(container);
  const H = W < 500 ? narrow : wide;
  const x0 = MARGIN.left;
  const x1 = W - MARGIN.right;
  return { W, H, x0, x1, y0: MARGIN.top, y1: H - MARGIN.bottom, plotW: Math.max(1, x1 - x0) };
}

/**
 * Draws one line (with dots when they are few) per series into `container`, replacing its
 * content. Each series is downsampled to the plot's pixel width first. Pointer moves and the
 * arrow keys (when the chart has the focus) pick the nearest drawn point and report it.
 *
 * @param {HTMLElement} container
 * @param {Object} opts
 * @param {Array<{name: string, color: string, points: Array}>} opts.series points in time order
 * @param {number} opts.from
 * @param {number} opts.to
 * @param {function(number): string} [opts.formatValue] for the y axis (default: compact numbers)
 * @param {function(number, number, number): {lo: number, hi: number, ticks: number[]}} [opts.yTicks]
 *   tick maker for the y axis ({@link niceTicks} or {@link durationTicks})
 * @param {string} [opts.label] accessible name of the chart
 * @param {function(Object, Object): void} [opts.onPick] called with (point, series)
 * @returns {{drawn: number, svg: SVGElement}} how many points were drawn
 */
export function drawLineChart(container, opts) {
  const { series, from, to, formatValue = formatCompact, yTicks = niceTicks, label = 'Chart', onPick = () => {} } = opts;
  const { W, H, x0, x1, y0, y1, plotW } = frame(container, 220, 280);
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', tabindex: 0, role: 'img',
    'aria-label': `${label}. Use the arrow keys to read the datapoints.`,
  });
  const drawn = series.map((se) => downsample(se.points, from, to, plotW));
  let lo = Infinity;
  let hi = -Infinity;
  for (const pts of drawn) for (const p of pts) {
    if (p.value < lo) lo = p.value;
    if (p.value > hi) hi = p.value;
  }
  const total = drawn.reduce((n, pts) => n + pts.length, 0);
  if (total === 0) {
    emptyNote(svg, W, H, 'No datapoints in this range.');
    container.replaceChildren(svg);
    return { drawn: 0, svg };
  }
  if (lo >= 0 && lo <= (hi - lo) * 0.5) lo = 0;
  const yt = yTicks(lo, hi, Math.max(2, Math.floor((y1 - y0) / 45)));
  const X = (t) => x0 + ((t - from) / (to - from)) * plotW;
  const Y = (v) => y1 - ((v - yt.lo) / (yt.hi - yt.lo)) * (y1 - y0);
  yAxis(svg, yt, Y, x0, x1, formatValue);
  for (const tick of timeTicks(from, to, Math.floor(plotW / 80))) {
    const x = X(tick.t);
    svg.appendChild(s('line', { x1: x, x2: x, y1: y0, y2: y1, class: 'grid' }));
    svg.appendChild(s('text', { x, y: y1 + 18, 'text-anchor': 'middle', class: 'tick' }, tick.label));
  }
  svg.appendChild(s('line', { x1: x0, x2: x1, y1, y2: y1, class: 'axis' }));
  const all = [];
  drawn.forEach((pts, si) => {
    const color = series[si].color;
    const g = s('g', { class: 'series' });
    let d = '';
    for (const p of pts) {
      const x = X(p.timestamp);
      const y = Y(p.value);
      d += `${d ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`;
      all.push({ x, y, p, si });
    }
    g.appendChild(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.5, 'stroke-linejoin': 'round' }));
    if (pts.length <= 400) {
      for (const p of pts) g.appendChild(s('circle', { cx: X(p.timestamp).toFixed(1), cy: Y(p.value).toFixed(1), r: 2.5, fill: color }));
    }
    svg.appendChild(g);
  });
  all.sort((a, b) => a.x - b.x);
  const guide = s('line', { y1: y0, y2: y1, class: 'guide', visibility: 'hidden' });
  const marker = s('circle', { r: 5, class: 'marker', visibility: 'hidden' });
  svg.append(guide, marker);
  let current = -1;
  const pick = (i) => {
    if (i < 0 || i >= all.length) return;
    current = i;
    const { x, y, p, si } = all[i];
    for (const [k, v] of [['x1', x], ['x2', x], ['visibility', 'visible']]) guide.setAttribute(k, v);
    for (const [k, v] of [['cx', x], ['cy', y], ['stroke', series[si].color], ['visibility', 'visible']]) marker.setAttribute(k, v);
    onPick(p, series[si]);
  };
  svg.addEventListener('pointermove', (e) => {
    const r = svg.getBoundingClientRect();
    if (!r.width) return;
    const k = W / r.width;
    pick(nearest(all, (e.clientX - r.left) * k, (e.clientY - r.top) * k));
  });
  svg.addEventListener('focus', () => { if (current < 0) pick(all.length - 1); });
  svg.addEventListener('keydown', (e) => {
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
    let next;
    if (e.key in moves) next = Math.min(all.length - 1, Math.max(0, (current < 0 ? all.length - 1 : current) + moves[e.key]));
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = all.length - 1;
    else return;
    e.preventDefault();
    pick(next);
  });
  container.replaceChildren(svg);
  return { drawn: total, svg };
}

/**
 * Draws stacked bars of hours per bucket into `container`, replacing its content. Each bar
 * segment carries a `<title>` (name, hours, bucket) for the pointer.
 *
 * @param {HTMLElement} container
 * @param {Object} opts
 * @param {number[]} opts.buckets bucket starts
 * @param {Map<string, number[]>} opts.series hours per bucket per name, stacked in this order
 * @param {function(string): string} opts.colorOf
 * @param {'day'|'week'} opts.period
 * @param {string} [opts.id] id of the SVG element
 * @param {string} [opts.label] accessible name
 * @returns {SVGElement}
 */
export function drawBars(container, opts) {
  const { buckets, series, colorOf, period, id, label = 'Hours' } = opts;
  const { W, H, x0, x1, y0, y1, plotW } = frame(container, 200, 240);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', id, role: 'img', 'aria-label': label });
  const totals = buckets.map((_, i) => {
    let sum = 0;
    for (const row of series.values()) sum += row[i];
    return sum;
  });
  const max = Math.max(0, ...totals);
  if (!buckets.length || max <= 0) {
    emptyNote(svg, W, H, 'No hours in this range.');
    container.replaceChildren(svg);
    return svg;
  }
  const yt = niceTicks(0, max, Math.max(2, Math.floor((y1 - y0) / 40)));
  const Y = (v) => y1 - (v / yt.hi) * (y1 - y0);
  yAxis(svg, yt, Y, x0, x1, (v) => `${v} h`);
  const band = plotW / buckets.length;
  const bw = Math.max(1, band * 0.8);
  const every = Math.max(1, Math.ceil(buckets.length / Math.max(1, Math.floor(plotW / 64))));
  buckets.forEach((b, i) => {
    const x = x0 + i * band + (band - bw) / 2;
    const when = period === 'week' ? `week of ${formatDate(b)}` : formatDate(b);
    let acc = 0;
    for (const [name, row] of series) {
      const v = row[i];
      if (!(v > 0)) continue;
      const top = Y(acc + v);
      const rect = s('rect', { x: x.toFixed(1), y: top.toFixed(1), width: bw.toFixed(1), height: Math.max(0.5, Y(acc) - top).toFixed(1), fill: colorOf(name) });
      rect.appendChild(s('title', {}, `${name}: ${Math.round(v * 100) / 100} h, ${when}`));
      svg.appendChild(rect);
      acc += v;
    }
    if (i % every === 0) {
      svg.appendChild(s('text', { x: x + bw / 2, y: y1 + 18, 'text-anchor': 'middle', class: 'tick' }, formatDate(b).slice(5)));
    }
  });
  svg.appendChild(s('line', { x1: x0, x2: x1, y1, y2: y1, class: 'axis' }));
  container.replaceChildren(svg);
  return svg;
}
