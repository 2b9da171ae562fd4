// GET /api/user/dashboard rows (UTC day × model) turned into the 7-day series the dashboard chart draws.

export interface UsageRow {
  Day: string;
  ModelName: string;
  RequestCount: number;
  Quota: number;
  PromptTokens: number;
  CompletionTokens: number;
}

export type Metric = 'quota' | 'requests' | 'tokens';

export interface Series {
  days: string[];
  models: string[];
  /** values[dayIndex][modelIndex] */
  values: number[][];
  max: number;
}

export function metricOf(row: UsageRow, metric: Metric): number {
  if (metric === 'requests') return row.RequestCount;
  if (metric === 'tokens') return row.PromptTokens + row.CompletionTokens;
  return row.Quota;
}

/** The 7 UTC days ending with `now`'s, as YYYY-MM-DD (the server groups by UTC day). */
export function lastSevenDays(now: Date): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: 7 }, (_, i) => new Date(today - (6 - i) * 86400000).toISOString().slice(0, 10));
}

export function buildSeries(rows: UsageRow[], metric: Metric, now: Date): Series {
  const days = lastSevenDays(now);
  rows = rows.filter((row) => days.includes(row.Day));
  const totals = new Map<string, number>();
  for (const row of rows) totals.set(row.ModelName, (totals.get(row.ModelName) ?? 0) + metricOf(row, metric));
  // biggest models first, so the legend reads in order of weight
  const models = [...totals.keys()].sort((a, b) => (totals.get(b) ?? 0) - (totals.get(a) ?? 0) || a.localeCompare(b));
  const values = days.map(() => models.map(() => 0));
  for (const row of rows) values[days.indexOf(row.Day)][models.indexOf(row.ModelName)] += metricOf(row, metric);
  const max = Math.max(0, ...values.map((day) => day.reduce((a, b) => a + b, 0)));
  return { days, models, values, max };
}

/** Round axis maximum and tick step for `max` (1, 2 or 5 times a power of ten). */
export function niceScale(max: number, ticks = 4): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 0.25 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  return { top: step * ticks, step };
}
