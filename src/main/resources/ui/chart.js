// A time-series plot with uPlot: small, fast, no dependencies, draws on a canvas.
import { html, useEffect, useRef } from './htm-preact-3.1.1.js';
import uPlot from './uplot-1.6.32.js';

const COLORS = ['#1f4ed8', '#d97706', '#16a34a', '#b42318'];

/**
 * @param title shown above the plot and given to screen readers with a text summary
 * @param times epoch seconds
 * @param series [{label, values}]
 */
export function TimeChart({ title, times, series, summary, height = 200 }) {
  const box = useRef(null);
  const plot = useRef(null);

  useEffect(() => {
    const width = Math.max(300, box.current.clientWidth);
    const options = {
      width,
      height,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#56606b', grid: { stroke: '#eef0f3' } },
        {
          stroke: '#56606b',
          grid: { stroke: '#eef0f3' },
          size: 56,
          values: (u, values) => values.map((v) => (v >= 1000 ? v / 1000 + 'k' : v)),
        },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          fill: i === 0 ? 'rgba(31,78,216,0.08)' : undefined,
          spanGaps: true,
        })),
      ],
    };
    plot.current = new uPlot(options, [times, ...series.map((s) => s.values)], box.current);
    const resize = () => plot.current.setSize({ width: Math.max(300, box.current.clientWidth), height });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current.destroy();
      plot.current = null;
    };
  }, [series.length]);

  useEffect(() => {
    if (plot.current) plot.current.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);

  return html`<figure class="chart">
    <h2>${title}</h2>
    <div ref=${box} role="img" aria-label=${title + ': ' + (summary || '')}></div>
  </figure>`;
}

/**
 * Spend per day as bars, with the daily budget as a dashed line when there is one.
 *
 * @param days [{day: 'YYYY-MM-DD', cost_usd}]
 * @param budget the daily budget in USD, or null
 */
/**
 * The days of a day chart that get a tick: every one when there is room (48 px each), else every
 * second, third, ... day, so that labels never overlap and never repeat a day.
 */
export function daySplits(times, widthPx) {
  const every = Math.max(1, Math.ceil((times.length * 48) / Math.max(1, widthPx)));
  return times.filter((_, i) => i % every === 0);
}

export function DayChart({ title, days, budget, summary, height = 200 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = () => {
    const times = days.map((d) => Date.parse(d.day + 'T00:00:00Z') / 1000);
    const spend = days.map((d) => Number(d.cost_usd));
    return budget ? [times, spend, days.map(() => budget)] : [times, spend];
  };

  useEffect(() => {
    const width = Math.max(300, box.current.clientWidth);
    const money = (v) => (v === null || v === undefined ? '' : '$' + (v < 1 ? v.toFixed(v < 0.01 ? 4 : 2) : v.toFixed(2)));
    const options = {
      width,
      height,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      // Days are UTC days, as the ledger counts them.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      scales: {
        // Half a day either side, so that the first and last day's bars are whole.
        x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] },
        y: { range: (u, min, max) => [0, Math.max(max, budget || 0) * 1.1 || 1] },
      },
      axes: [
        {
          stroke: '#56606b',
          grid: { show: false },
          // One tick per day under its bar (every few days when they would crowd), never one per
          // few hours labelled with the same day.
          splits: (u) => daySplits(u.data[0], u.bbox.width / uPlot.pxRatio),
          values: '{D} {MMM}',
        },
        {
          stroke: '#56606b',
          grid: { stroke: '#eef0f3' },
          size: 64,
          // The same number of decimals on every tick: cents, or tenths of a cent for tiny sums.
          values: (u, values) => {
            const step = values.length > 1 ? Math.abs(values[1] - values[0]) : 1;
            return values.map((v) => '$' + v.toFixed(step >= 0.01 ? 2 : 4));
          },
        },
      ],
      series: [
        {},
        {
          label: 'spend',
          fill: '#1f4ed8',
          stroke: '#1f4ed8',
          width: 0,
          paths: uPlot.paths.bars({ size: [0.7, 40] }),
          points: { show: false },
          value: (u, v) => money(v),
        },
        ...(budget
          ? [{ label: 'daily budget', stroke: '#b42318', width: 1.5, dash: [6, 4], points: { show: false }, value: (u, v) => money(v) }]
          : []),
      ],
    };
    plot.current = new uPlot(options, data(), box.current);
    const resize = () => plot.current.setSize({ width: Math.max(300, box.current.clientWidth), height });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current.destroy();
      plot.current = null;
    };
  }, [Boolean(budget), days.length]);

  useEffect(() => {
    if (plot.current) plot.current.setData(data());
  }, [days, budget]);

  return html`<figure class="chart">
    <h2>${title}</h2>
    <div ref=${box} role="img" aria-label=${title + ': ' + (summary || '')}></div>
  </figure>`;
}
