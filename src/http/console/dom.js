/**
 * Tiny DOM helpers. Strings only ever become text nodes or attribute values, never markup:
 * every server-provided string (metric names, event titles, errors) goes through here.
 * @module dom
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Attributes that load or navigate: only URLs the console builds itself may go there. */
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

/**
 * Whether a URL is one the console may put in a link: same-origin paths, in-page hashes
 * and blob: URLs it made. Never `javascript:` or another origin's address.
 * @param {string} url
 * @returns {boolean}
 */
export function isSafeUrl(url) {
  return /^(#|\/(?!\/)|blob:)/.test(url);
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`event attribute ${key} must be a function`);
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'style') {
      throw new Error('style attributes are refused by the CSP: use a class');
    } else if (URL_ATTRS.has(key) && !isSafeUrl(String(value))) {
      throw new Error(`refusing ${key}: not a console URL`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Creates an HTML element. `attrs` values are set with setAttribute (true -> present,
 * false/null -> absent); `onclick: fn` style keys add listeners. Children may be nodes,
 * strings (as text), numbers, arrays, or null (skipped).
 * @param {string} tag
 * @param {Object<string, *>} [attrs]
 * @param {...*} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * Creates an SVG element, same rules as {@link h}.
 * @param {string} tag
 * @param {Object<string, *>} [attrs]
 * @param {...*} children
 * @returns {SVGElement}
 */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * Replaces an element's content with text.
 * @param {Element} el
 * @param {*} text
 */
export function setText(el, text) {
  el.textContent = text === null || text === undefined ? '' : String(text);
}

/**
 * Runs `render`, which may replace the content of `root`, then gives the focus back to the
 * element carrying the same `data-focus` key, so timed refreshes do not lose a keyboard
 * user's place.
 * @param {Element} root
 * @param {function(): void} render
 */
export function keepFocus(root, render) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.getAttribute('data-focus') : null;
  render();
  if (key === null || root.contains(active)) return;
  for (const el of root.querySelectorAll('[data-focus]')) {
    if (el.getAttribute('data-focus') === key) {
      el.focus();
      return;
    }
  }
}

/**
 * Shows a message in a `#message` element: an error (red) or a notice (neutral).
 * @param {Element} el
 * @param {string} text empty to clear
 * @param {'error'|'ok'} [kind]
 */
export function say(el, text, kind = 'error') {
  el.classList.toggle('error', kind === 'error');
  el.classList.toggle('ok', kind === 'ok');
  setText(el, text);
}

/**
 * The message line of a page that reloads itself: a failed load says why, and the next load
 * that works clears only what a failed load said (not the outcome of an action).
 * @param {HTMLElement} el
 */
export function loadNotice(el) {
  let failed = false;
  return {
    ok() {
      if (failed) say(el, '');
      failed = false;
    },
    /** @param {Error} err */
    failed(err) {
      failed = true;
      say(el, err.message);
    },
  };
}

/**
 * A swatch of colour for legends, drawn in SVG (the CSP forbids style attributes).
 * @param {string} color
 * @returns {SVGElement}
 */
export function swatch(color) {
  return s('svg', { class: 'swatch', viewBox: '0 0 10 10', width: 10, height: 10, 'aria-hidden': 'true' },
    s('rect', { width: 10, height: 10, rx: 2, fill: color }));
}
