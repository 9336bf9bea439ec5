/**
 * Metrics: the list of the user's metrics; for the chosen one a range, a split by dimension,
 * a line chart with a readout, stacked hours for `imp.events.duration`, the latest datapoints
 * as a table and all of them as CSV.
 * @module pages/metrics
 */

import { h, setText, say, swatch } from '../dom.js';
import { request, enc, isAbort } from '../api.js';
import { rangeFor, customRange, toDateInput } from '../lib/range.js';
import { bucketHours, seriesName } from '../lib/bucket.js';
import { toCsv } from '../lib/csv.js';
import { drawLineChart, drawBars, durationTicks, PALETTE } from '../lib/chart.js';
import { formatDateTime, formatDuration, formatDurationShort, formatValue, formatDimensions } from '../lib/format.js';

const DURATION = 'imp.events.duration';
const TABLE_ROWS = 500;
const NO_SPLIT = 'none';
const READOUT_HINT = 'Point at the chart, or focus it and use the arrow keys, to read a datapoint.';

/**
 * The split a metric starts with: `activity` for calendar metrics that have it, else none.
 * @param {string} metric
 * @param {string[]} keys dimension keys seen
 * @returns {string}
 */
export function defaultSplit(metric, keys) {
  return metric.startsWith('imp.events.') && keys.includes('activity') ? 'activity' : NO_SPLIT;
}

/** Dimension keys seen in the points, sorted. */
function keysOf(points) {
  const keys = new Set();
  for (const p of points) if (p.dimensions) for (const k of Object.keys(p.dimensions)) keys.add(k);
  return [...keys].sort();
}

/** Points grouped by the split's value, names sorted, `(none)` last. */
function groupPoints(points, split) {
  const groups = new Map();
  for (const p of points) {
    const name = seriesName(p, split === NO_SPLIT ? null : split);
    let list = groups.get(name);
    if (!list) groups.set(name, (list = []));
    list.push(p);
  }
  const rank = (n) => (n === '(none)' ? 1 : 0);
  return [...groups].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function option(value, text, selected) {
  return h('option', { value, selected }, text);
}

function label(forId, text, control) {
  return h('span', { class: 'field' }, h('label', { for: forId }, text), control);
}

/** Mounts the page. */
export function mount(view, ctx) {
  const { signal } = ctx;
  const st = { metric: null, points: [], range: null, split: NO_SPLIT, splitTouched: false, seq: 0, csvUrl: null, colors: new Map() };

  const message = h('p', { id: 'message', class: 'message', role: 'alert' });
  const list = h('ul', { id: 'metric-list', class: 'metric-list' });
  const rangeSel = h('select', { id: 'range' },
    option('7', 'Last 7 days'), option('30', 'Last 30 days', true), option('90', 'Last 90 days'),
    option('365', 'Last 365 days'), option('custom', 'Custom…'));
  const now = Date.now();
  const fromIn = h('input', { id: 'from', type: 'date', value: toDateInput(now - 29 * 86400000) });
  const toIn = h('input', { id: 'to', type: 'date', value: toDateInput(now) });
  const custom = h('span', { id: 'custom-range', class: 'custom-range', hidden: true },
    label('from', 'From', fromIn), label('to', 'To', toIn));
  const splitSel = h('select', { id: 'split' }, option(NO_SPLIT, 'none'));
  const title = h('h2', { id: 'metric-name' });
  const summary = h('p', { id: 'summary', class: 'muted' });
  const chart = h('div', { id: 'chart', class: 'chart' });
  const legend = h('ul', { id: 'legend', class: 'legend', 'aria-label': 'Series' });
  const readout = h('p', { id: 'readout', class: 'readout', 'aria-live': 'polite' }, READOUT_HINT);
  const periodSel = h('select', { id: 'bars-period' }, option('day', 'per day', true), option('week', 'per week'));
  const barsBox = h('div', { class: 'chart bars' });
  const barsSection = h('section', { id: 'bars-section', hidden: true },
    h('h3', {}, 'Hours'), h('div', { class: 'controls' }, label('bars-period', 'Period', periodSel)), barsBox);
  const tableNote = h('p', { id: 'table-note', class: 'muted' });
  const tbody = h('tbody');
  const valueHead = h('th', { scope: 'col' }, 'Value');
  const durationHead = h('th', { scope: 'col', hidden: true }, 'Duration');
  const table = h('table', { id: 'points-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), valueHead, durationHead, h('th', { scope: 'col' }, 'Dimensions'))),
    tbody);
  const csv = h('a', { id: 'csv', class: 'btn', download: 'metric.csv' }, 'Download CSV');
  const detail = h('div', { id: 'metric-detail', class: 'metric-detail', hidden: true },
    title,
    h('div', { class: 'controls' }, label('range', 'Range', rangeSel), custom, label('split', 'Split by', splitSel)),
    summary, chart, legend, readout, barsSection,
    h('h3', {}, 'Datapoints'), tableNote, h('div', { class: 'table-wrap' }, table), h('p', {}, csv));
  const placeholder = h('p', { class: 'muted' }, 'Choose a metric.');

  const colorOf = (name) => {
    if (!st.colors.has(name)) st.colors.set(name, PALETTE[st.colors.size % PALETTE.length]);
    return st.colors.get(name);
  };
  const isDuration = () => st.metric === DURATION;
  const showValue = (v) => (isDuration() ? `${formatDuration(v)} (${formatValue(v)})` : formatValue(v));

  function currentRange() {
    if (rangeSel.value === 'custom') return customRange(fromIn.value, toIn.value);
    return rangeFor(Number(rangeSel.value), Date.now());
  }

  function drawCharts() {
    setText(readout, READOUT_HINT);
    if (!st.range) return;
    const groups = groupPoints(st.points, st.split);
    st.colors = new Map();
    const series = groups.map(([name, points]) => ({ name, points, color: colorOf(name) }));
    const { drawn } = drawLineChart(chart, {
      series, from: st.range.from, to: st.range.to,
      formatValue: isDuration() ? formatDurationShort : undefined,
      yTicks: isDuration() ? durationTicks : undefined,
      label: `${st.metric} over time`,
      onPick: (p, se) => {
        const dims = formatDimensions(p.dimensions);
        setText(readout, `${showValue(p.value)} · ${formatDateTime(p.timestamp)} · ${se.name}${dims ? ` · ${dims}` : ''}`);
      },
    });
    chart.setAttribute('data-drawn-count', String(drawn));
    legend.replaceChildren(...series.map((se) => h('li', { title: `${se.points.length} datapoints` }, swatch(se.color), se.name)));
    barsSection.hidden = !isDuration();
    if (isDuration()) {
      const b = bucketHours(st.points, periodSel.value, st.split === NO_SPLIT ? null : st.split, st.range);
      drawBars(barsBox, { ...b, colorOf, period: periodSel.value, id: 'bars', label: `Hours ${periodSel.value === 'week' ? 'per week' : 'per day'}` });
    }
  }

  function renderTable() {
    const pts = st.points;
    const shown = pts.slice(-TABLE_ROWS).reverse();
    durationHead.hidden = !isDuration();
    tbody.replaceChildren(...shown.map((p) => h('tr', {},
      h('td', { class: 'time' }, formatDateTime(p.timestamp)),
      h('td', { class: 'num' }, String(p.value)),
      isDuration() ? h('td', {}, formatDuration(p.value)) : null,
      h('td', { class: 'wrap' }, formatDimensions(p.dimensions)))));
    setText(tableNote, pts.length > TABLE_ROWS
      ? `The latest ${TABLE_ROWS} of ${pts.length} datapoints, newest first; the CSV holds them all.`
      : `${pts.length} datapoint${pts.length === 1 ? '' : 's'}, newest first.`);
  }

  function renderCsv() {
    if (st.csvUrl) URL.revokeObjectURL(st.csvUrl);
    st.csvUrl = URL.createObjectURL(new Blob([toCsv(st.points)], { type: 'text/csv;charset=utf-8' }));
    csv.href = st.csvUrl;
    csv.setAttribute('download', `${st.metric}.csv`);
  }

  function updateSplit(keys) {
    const usable = keys.filter((k) => k !== NO_SPLIT);
    if (!(st.splitTouched && usable.includes(st.split))) st.split = defaultSplit(st.metric, usable);
    splitSel.replaceChildren(option(NO_SPLIT, 'none', st.split === NO_SPLIT), ...usable.map((k) => option(k, k, k === st.split)));
    splitSel.value = st.split;
  }

  async function load() {
    if (!st.metric) return;
    let range;
    try {
      range = currentRange();
    } catch (err) {
      say(message, err.message);
      return;
    }
    const seq = ++st.seq;
    chart.removeAttribute('data-point-count');
    chart.removeAttribute('data-drawn-count');
    chart.removeAttribute('data-drawn-at');
    chart.setAttribute('aria-busy', 'true');
    try {
      const path = `/data/${enc(st.metric)}?from=${Math.floor(range.from)}&to=${Math.ceil(range.to)}`;
      const answer = await request('GET', path, { signal });
      if (seq !== st.seq || signal.aborted) return;
      const points = Array.isArray(answer) ? answer : [];
      if (points.some((p, i) => i > 0 && p.timestamp < points[i - 1].timestamp)) points.sort((a, b) => a.timestamp - b.timestamp);
      Object.assign(st, { points, range });
      say(message, '');
      updateSplit(keysOf(points));
      setText(summary, `${points.length} datapoint${points.length === 1 ? '' : 's'} from ${formatDateTime(range.from)} to ${formatDateTime(range.to - 1)}.`);
      chart.setAttribute('data-point-count', String(points.length));
      drawCharts();
      // Milliseconds since navigation when the charts were drawn: what the benchmark reads.
      chart.setAttribute('data-drawn-at', String(Math.round(performance.now())));
      renderTable();
      renderCsv();
    } catch (err) {
      if (!isAbort(err) && seq === st.seq) say(message, err.message);
    } finally {
      if (seq === st.seq) chart.removeAttribute('aria-busy');
    }
  }

  function select(metric) {
    for (const a of list.querySelectorAll('a.metric')) {
      if (a.getAttribute('data-metric') === metric) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (!metric) {
      detail.hidden = true;
      placeholder.hidden = false;
      return;
    }
    placeholder.hidden = true;
    detail.hidden = false;
    if (metric === st.metric) return;
    Object.assign(st, { metric, points: [], range: null, splitTouched: false, split: NO_SPLIT });
    if (st.csvUrl) URL.revokeObjectURL(st.csvUrl);
    st.csvUrl = null;
    csv.removeAttribute('href');
    tbody.replaceChildren();
    legend.replaceChildren();
    chart.replaceChildren();
    chart.removeAttribute('data-point-count');
    chart.removeAttribute('data-drawn-count');
    chart.setAttribute('data-metric', metric);
    setText(title, metric);
    setText(summary, 'Loading…');
    load();
  }

  async function loadList() {
    try {
      const names = await request('GET', '/data', { signal });
      if (signal.aborted) return;
      const sorted = (Array.isArray(names) ? names : []).map(String).sort();
      list.replaceChildren(...sorted.map((name) => h('li', {},
        h('a', { class: 'metric', 'data-metric': name, href: `#/metrics?metric=${enc(name)}` }, name))));
      if (!sorted.length) list.appendChild(h('li', { class: 'muted' }, 'No metrics yet. Connect Google Calendar and title events with #!, or write datapoints through the API.'));
      select(st.metric);
    } catch (err) {
      if (!isAbort(err)) say(message, err.message);
    }
  }

  rangeSel.addEventListener('change', () => {
    custom.hidden = rangeSel.value !== 'custom';
    load();
  });
  fromIn.addEventListener('change', load);
  toIn.addEventListener('change', load);
  splitSel.addEventListener('change', () => {
    st.split = splitSel.value;
    st.splitTouched = true;
    drawCharts();
  });
  periodSel.addEventListener('change', drawCharts);
  let resizeTimer = null;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawCharts, 150);
  };
  window.addEventListener('resize', onResize);
  signal.addEventListener('abort', () => {
    window.removeEventListener('resize', onResize);
    clearTimeout(resizeTimer);
    if (st.csvUrl) URL.revokeObjectURL(st.csvUrl);
  });

  view.append(
    h('h1', { tabindex: -1 }, 'Metrics'),
    message,
    h('div', { class: 'metrics-layout' },
      h('nav', { class: 'metric-nav', 'aria-label': 'Metrics' }, list),
      h('div', {}, placeholder, detail)));
  loadList();
  // `#/metrics?metric=weight&range=365` opens a metric over 7, 30, 90 or 365 days.
  const preset = (params) => {
    const days = params.get('range');
    if (days && [...rangeSel.options].some((o) => o.value === days && days !== 'custom')) rangeSel.value = days;
  };
  preset(ctx.params);
  select(ctx.params.get('metric'));
  return { update: (params) => { preset(params); select(params.get('metric')); } };
}
