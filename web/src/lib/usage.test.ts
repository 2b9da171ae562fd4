import { describe, expect, it } from 'vitest';
import { buildSeries, lastSevenDays, niceScale, type UsageRow } from './usage';

const row = (Day: string, ModelName: string, Quota: number, RequestCount = 1): UsageRow =>
  ({ Day, ModelName, Quota, RequestCount, PromptTokens: 10, CompletionTokens: 5 });

describe('dashboard series', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  it('covers the 7 UTC days ending today', () => {
    expect(lastSevenDays(now)).toEqual(['2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10']);
  });
  it('stacks each model per day, biggest model first, ignoring days out of range', () => {
    const s = buildSeries([row('2026-03-10', 'small', 5), row('2026-03-10', 'big', 50), row('2026-03-09', 'big', 20), row('2026-01-01', 'old', 999)], 'quota', now);
    expect(s.models).toEqual(['big', 'small']);
    expect(s.values[6]).toEqual([50, 5]);
    expect(s.values[5]).toEqual([20, 0]);
    expect(s.max).toBe(55);
  });
  it('switches metric', () => {
    const s = buildSeries([row('2026-03-10', 'm', 5, 3)], 'tokens', now);
    expect(s.values[6]).toEqual([15]);
    expect(buildSeries([row('2026-03-10', 'm', 5, 3)], 'requests', now).max).toBe(3);
  });
  it('rounds the axis', () => {
    expect(niceScale(55)).toEqual({ top: 80, step: 20 });
    expect(niceScale(0).top).toBe(1);
  });
});
