// The price page (GET /api/pricing) and the price import's diff (POST /api/pricing/import[/preview]), #16.

export interface PartPrice {
  usd_per_mtok: number;
  quota_per_token: number;
  ratio: number;
  /** false: the model has no price of its own for this part; it is billed at the price shown (input or output). */
  own: boolean;
}

export interface TierPrice {
  above: number;
  input: { usd_per_mtok: number; quota_per_token: number };
  output: { usd_per_mtok: number; quota_per_token: number };
}

export interface ModelPrice {
  model: string;
  model_ratio: number;
  completion_ratio: number;
  priced: boolean;
  parts: Record<string, PartPrice>;
  tiers: TierPrice[];
}

export interface Pricing {
  group: string;
  group_ratio: number;
  quota_per_unit: number;
  models: ModelPrice[];
}

export interface PriceChange {
  old: number | { above: number; input: number; output: number }[];
  new: number | { above: number; input: number; output: number }[];
}

export interface ImportRow {
  model: string;
  status: 'added' | 'changed' | 'unchanged';
  changes: Record<string, PriceChange>;
  removed: string[];
}

export interface ImportPreview {
  source: string;
  models: ImportRow[];
  options: string[];
}

/** The parts of a price row, in the order the table shows them, with their column titles. */
export const PRICE_COLUMNS: [string, string][] = [
  ['input', 'Input'], ['output', 'Output'], ['cache_read', 'Cache read'], ['cache_write_5m', 'Cache write 5m'],
  ['cache_write_1h', 'Cache write 1h'], ['audio_input', 'Audio in'], ['audio_output', 'Audio out'],
];

/** Models whose name contains every word of the query (case-insensitive), in the server's order. */
export function filterModels(models: ModelPrice[], query: string): ModelPrice[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return models.filter((m) => words.every((w) => m.model.toLowerCase().includes(w)));
}

/** "$0.3", "$15", "$0.075", "$0": dollars with at most 6 decimals and no trailing zeros. */
export function usd(value: number): string {
  return `$${Number(value.toFixed(6))}`;
}

/** "above 200000: in $6 · out $22.5" per tier, joined; "" without tiers. */
export function tierText(tiers: TierPrice[]): string {
  return tiers.map((x) => `>${x.above}: in ${usd(x.input.usd_per_mtok)} · out ${usd(x.output.usd_per_mtok)}`).join('; ');
}

function changeValue(value: PriceChange['old']): string {
  if (typeof value === 'number') return usd(value);
  if (value.length === 0) return '—';
  return value.map((x) => `>${x.above}: ${usd(x.input)} / ${usd(x.output)}`).join('; ');
}

/** One line per changed part of each model ("input: $3 → $2.5"), for the import dialog. */
export function changeLines(row: ImportRow): string[] {
  return Object.entries(row.changes).map(([part, c]) => `${part}: ${changeValue(c.old)} → ${changeValue(c.new)}`);
}

/** The body the import endpoints take: a URL ({"url": ...}) or the price file's JSON; an Error when it is neither. */
export function importBody(text: string): unknown {
  const trimmed = text.trim();
  if (/^https?:\/\/\S+$/.test(trimmed)) return { url: trimmed };
  try {
    return JSON.parse(trimmed);
  } catch (e) {
    throw new Error(`not a URL and not valid JSON: ${(e as Error).message}`);
  }
}
