// A stacked bar chart in plain SVG: one bar per day, one colour per model, a legend underneath.
import { t } from '../lib/i18n';
import { niceScale, type Series } from '../lib/usage';

const COLORS = ['#2f6fde', '#e0803a', '#2ba36b', '#c2408f', '#8a63d2', '#d1b530', '#21a3b8', '#d2504b', '#6b7f99', '#7fb83e'];
const W = 720;
const H = 260;
const PAD = { left: 64, right: 12, top: 12, bottom: 28 };

export function StackedBars({ series, format }: { series: Series; format: (value: number) => string }) {
  const { top, step } = niceScale(series.max);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / series.days.length;
  const barW = Math.min(56, slot * 0.6);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
  if (series.max === 0) return <div class="empty">{t('No usage in the last 7 days.')}</div>;
  return (
    <div class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={t('Usage of the last 7 days')}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} class="grid" />
            <text x={PAD.left - 6} y={y(v) + 4} text-anchor="end" class="axis">{format(v)}</text>
          </g>
        ))}
        {series.days.map((day, d) => {
          let base = 0;
          const x = PAD.left + d * slot + (slot - barW) / 2;
          return (
            <g key={day} data-day={day}>
              {series.models.map((model, m) => {
                const v = series.values[d][m];
                if (!v) return null;
                const rect = <rect key={model} x={x} width={barW} y={y(base + v)} height={Math.max(1, y(base) - y(base + v))}
                  fill={COLORS[m % COLORS.length]}><title>{`${day} · ${model}: ${format(v)}`}</title></rect>;
                base += v;
                return rect;
              })}
              <text x={x + barW / 2} y={H - 8} text-anchor="middle" class="axis">{day.slice(5)}</text>
            </g>
          );
        })}
      </svg>
      <div class="legend">
        {series.models.map((model, m) => (
          <span key={model} class="legend-item"><i style={{ background: COLORS[m % COLORS.length] }} />{model}</span>
        ))}
      </div>
    </div>
  );
}
