// Job timeline: one row per host, one coloured segment per phase on a shared time axis (hosts[].timeline of the job
// JSON), drawn as SVG once the job is over, so a slow host or a slow phase stands out. timelineLayout is pure (the
// unit tests check its arithmetic); renderTimeline turns it into a legend, an axis and the rows.

import { t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

/** Phase colours, in the order a publish goes through them; other phases get one from OTHER_COLORS by name. */
export const PHASE_COLORS = {
  connecting: '#adb5bd',
  staging: '#6f42c1',
  'relay-copy': '#9b6dde',
  uploading: '#0d6efd',
  verifying: '#0dcaf0',
  snapshot: '#ffc107',
  extracting: '#fd7e14',
  cleanup: '#b5a48b',
  hooks: '#d63384',
  checking: '#20c997',
  restoring: '#795548',
  start: '#2e8b57', stop: '#6c757d', restart: '#198754', status: '#5f9ea0',
};
const OTHER_COLORS = ['#8d6e63', '#5c6bc0', '#26a69a', '#ab47bc', '#7cb342', '#ef6c00'];
/** How a host ended: a marker at the end of its row. */
export const END_COLORS = { done: '#198754', failed: '#dc3545', skipped: '#6c757d' };
const PHASE_LABELS = { staging: t('staging on the relay'), 'relay-copy': t('copy from the relay'), snapshot: t('snapshot'), verifying: t('verifying') };

export function phaseColor(phase) {
  if (Object.hasOwn(PHASE_COLORS, phase)) return PHASE_COLORS[phase];
  let hash = 0;
  for (const ch of String(phase)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return OTHER_COLORS[hash % OTHER_COLORS.length];
}

export function phaseLabel(phase) {
  return Object.hasOwn(PHASE_LABELS, phase) ? PHASE_LABELS[phase] : t(phase);
}

/** '350 ms', '2.4 s', '42 s', '3 min 5 s'. */
export function fmtSpan(ms) {
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return t('{{n}} ms', { n: ms });
  if (ms < 10_000) return t('{{n}} s', { n: (ms / 1000).toFixed(1) });
  const s = Math.round(ms / 1000);
  if (s < 60) return t('{{n}} s', { n: s });
  return s % 60 ? t('{{m}} min {{s}} s', { m: Math.floor(s / 60), s: s % 60 }) : t('{{m}} min', { m: s / 60 });
}

const STEPS = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];

/** The tick interval (ms) that puts at most `maxTicks` intervals on a span. */
export function tickStep(spanMs, maxTicks) {
  const step = STEPS.find((s) => spanMs / s <= maxTicks);
  return step ?? Math.ceil(spanMs / maxTicks / 3_600_000) * 3_600_000;
}

const ENDS = new Set(Object.keys(END_COLORS));
const timeOf = (value) => (value === null || value === undefined || value === '' ? NaN : typeof value === 'number' ? value : Date.parse(value));

/**
 * Where everything goes. hosts: [{ host, timeline: [{ phase, at }], finishedAt }]; opts: width (px of the whole
 * drawing), labelWidth, durationWidth (room right of the bars for each host's total), rowHeight, rowGap, maxTicks.
 * A phase lasts until the next entry; a last phase that is not an end (the job was interrupted) until the host's
 * finishedAt, or the end of the axis. Returns null when no host has a timeline.
 */
export function timelineLayout(hosts, opts) {
  const { width, labelWidth = 160, durationWidth = 72, rowHeight = 16, rowGap = 6, maxTicks = 8 } = opts;
  const lists = hosts.map((h) => (Array.isArray(h.timeline) ? h.timeline.filter((e) => Number.isFinite(e.at)) : []));
  const starts = lists.filter((l) => l.length).map((l) => l[0].at);
  if (!starts.length) return null;
  const start = Math.min(...starts);
  const lastOf = (list, h) => Math.max(list.at(-1).at, ENDS.has(list.at(-1).phase) ? -Infinity : timeOf(h.finishedAt) || -Infinity);
  const end = Math.max(...lists.map((l, i) => (l.length ? lastOf(l, hosts[i]) : -Infinity)));
  const span = Math.max(end - start, 1);
  const plotX = labelWidth;
  const plotWidth = Math.max(40, width - labelWidth - durationWidth);
  const x = (t) => plotX + ((t - start) / span) * plotWidth;
  const pitch = rowHeight + rowGap;

  const rows = hosts.map((h, i) => {
    const list = lists[i];
    const y = i * pitch;
    if (!list.length) return { host: h.host, y, segments: [], end: null, total: null };
    const hostEnd = ENDS.has(list.at(-1).phase) ? list.at(-1).at : Math.max(list.at(-1).at, timeOf(h.finishedAt) || end);
    const segments = [];
    list.forEach((e, k) => {
      if (ENDS.has(e.phase)) return;
      const to = k + 1 < list.length ? list[k + 1].at : hostEnd;
      segments.push({ phase: e.phase, from: e.at, to, duration: to - e.at, x: x(e.at), width: Math.max(1, x(to) - x(e.at)) });
    });
    const last = list.at(-1);
    return {
      host: h.host, y, segments,
      end: ENDS.has(last.phase) ? { phase: last.phase, x: x(last.at) } : null,
      total: hostEnd - list[0].at,
    };
  });

  const step = tickStep(span, maxTicks);
  const ticks = [];
  for (let t = 0; t <= span; t += step) ticks.push({ x: x(start + t), label: t === 0 ? '0' : fmtSpan(t) });
  return { start, end, span, width, plotX, plotWidth, rowHeight, pitch, height: rows.length * pitch, rows, ticks };
}

function svgEl(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

function titled(node, text) {
  node.append(svgEl('title', {}, text));
  return node;
}

const shortName = (name, max) => (name.length > max ? name.slice(0, max - 1) + '…' : name);

/** Draws the timeline of `hosts` (the job JSON's hosts) into `container`, replacing what is there. */
export function renderTimeline(container, hosts) {
  const width = Math.max(520, Math.floor(container.clientWidth || 0) || 900);
  const layout = timelineLayout(hosts, { width });
  if (!layout) {
    container.replaceChildren(Object.assign(document.createElement('p'), { className: 'small text-secondary mb-0', textContent: t('No phase times were recorded for this job.') }));
    return null;
  }
  // The legend lists phases in the order a publish goes through them, others after.
  const order = (phase) => (Object.hasOwn(PHASE_COLORS, phase) ? Object.keys(PHASE_COLORS).indexOf(phase) : Infinity);
  const phases = [...new Set(layout.rows.flatMap((r) => r.segments.map((s) => s.phase)))].sort((a, b) => order(a) - order(b));
  const endings = [...new Set(layout.rows.map((r) => r.end?.phase).filter(Boolean))];

  const legend = document.createElement('ul');
  legend.className = 'timeline-legend list-inline small mb-2';
  for (const [phase, color, marker] of [...phases.map((p) => [p, phaseColor(p), false]), ...endings.map((p) => [p, END_COLORS[p], true])]) {
    const item = document.createElement('li');
    item.className = 'list-inline-item me-3';
    item.setAttribute('data-phase', phase);
    const swatch = document.createElement('span');
    swatch.className = 'timeline-swatch' + (marker ? ' timeline-swatch-end' : '');
    swatch.style.background = color;
    item.append(swatch, ' ' + (marker ? t('host {{phase}}', { phase: t(phase) }) : phaseLabel(phase)));
    legend.append(item);
  }

  const axis = svgEl('svg', { class: 'timeline-axis', width, height: 22, viewBox: `0 0 ${width} 22`, role: 'presentation' });
  for (const tick of layout.ticks) {
    axis.append(svgEl('line', { x1: tick.x, x2: tick.x, y1: 16, y2: 22, stroke: '#adb5bd' }));
    axis.append(svgEl('text', { x: tick.x, y: 12, 'text-anchor': 'middle', 'font-size': 11, fill: '#6c757d' }, tick.label));
  }
  axis.append(svgEl('text', { x: layout.plotX - 10, y: 12, 'text-anchor': 'end', 'font-size': 11, fill: '#6c757d' }, t('time since start')));

  const body = svgEl('svg', { class: 'job-timeline', width, height: layout.height, viewBox: `0 0 ${width} ${layout.height}`, role: 'img', 'aria-label': t('Timeline of the job: one row per host, one segment per phase') });
  for (const tick of layout.ticks) body.append(svgEl('line', { x1: tick.x, x2: tick.x, y1: 0, y2: layout.height, stroke: '#e9ecef' }));
  const labelChars = Math.floor((layout.plotX - 8) / 7);
  for (const row of layout.rows) {
    const g = svgEl('g', { class: 'timeline-row', 'data-host': row.host, transform: `translate(0 ${row.y})` });
    g.append(titled(svgEl('text', { x: 0, y: layout.rowHeight - 4, 'font-size': 12, 'font-family': 'var(--bs-font-monospace, monospace)', fill: '#212529' }, shortName(row.host, labelChars)), row.host));
    for (const s of row.segments) {
      g.append(titled(svgEl('rect', { class: 'timeline-segment', 'data-phase': s.phase, x: s.x.toFixed(1), y: 0, width: s.width.toFixed(1), height: layout.rowHeight, fill: phaseColor(s.phase) }),
        t('{{phase}} on {{host}}: {{duration}} (from {{from}})', { phase: phaseLabel(s.phase), host: row.host, duration: fmtSpan(s.duration), from: fmtSpan(s.from - layout.start) })));
    }
    if (row.end) {
      g.append(titled(svgEl('rect', { class: 'timeline-end', 'data-phase': row.end.phase, x: (row.end.x - 1.5).toFixed(1), y: -2, width: 3, height: layout.rowHeight + 4, fill: END_COLORS[row.end.phase] }),
        t('{{host}} {{phase}} after {{duration}}', { host: row.host, phase: t(row.end.phase), duration: fmtSpan(row.total) })));
    }
    if (row.total !== null) {
      g.append(svgEl('text', { x: layout.plotX + layout.plotWidth + 8, y: layout.rowHeight - 4, 'font-size': 11, fill: '#6c757d' }, fmtSpan(row.total)));
    }
    body.append(g);
  }
  const scroller = document.createElement('div');
  scroller.className = 'timeline-body';
  scroller.append(body);
  container.replaceChildren(legend, axis, scroller);
  return layout;
}
