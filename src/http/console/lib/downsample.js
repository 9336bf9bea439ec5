/**
 * Fewer points for drawing, keeping the shape: per pixel column the lowest and the highest
 * value survive, so spikes stay visible however many points there are.
 * @module lib/downsample
 */

/**
 * Downsamples time-ordered points to at most two per pixel column plus the first and last.
 *
 * @param {Array<{timestamp: number, value: number}>} points sorted by timestamp
 * @param {number} fromMs left edge of the drawing
 * @param {number} toMs right edge (exclusive)
 * @param {number} widthPx pixel columns
 * @returns {Array} the input itself when it has at most `2 * widthPx` points; else a new
 *   array holding the first point, the last point and, per column, the points with the
 *   minimum and the maximum value (the first of equals), in the original order
 */
export function downsample(points, fromMs, toMs, widthPx) {
  const width = Math.max(1, Math.floor(widthPx));
  const n = points.length;
  if (n <= 2 * width) return points;
  let from = fromMs;
  let span = toMs - fromMs;
  if (!(span > 0)) {
    from = points[0].timestamp;
    span = Math.max(1, points[n - 1].timestamp - from + 1);
  }
  const minAt = new Int32Array(width).fill(-1);
  const maxAt = new Int32Array(width).fill(-1);
  for (let i = 0; i < n; i++) {
    const { timestamp, value } = points[i];
    let col = Math.floor(((timestamp - from) / span) * width);
    if (col < 0) col = 0;
    else if (col >= width) col = width - 1;
    if (minAt[col] < 0 || value < points[minAt[col]].value) minAt[col] = i;
    if (maxAt[col] < 0 || value > points[maxAt[col]].value) maxAt[col] = i;
  }
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  for (let c = 0; c < width; c++) {
    if (minAt[c] >= 0) keep[minAt[c]] = 1;
    if (maxAt[c] >= 0) keep[maxAt[c]] = 1;
  }
  const out = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(points[i]);
  return out;
}
