// A log row's usage breakdown (usage_detail, #16): the parts shown in the log table and their prices.

export interface PartPrice {
  tokens: number;
  ratio: number;
  usd_per_mtok: number;
  quota: number;
}

export interface UsageDetail {
  usage?: Record<string, number>;
  parts?: Record<string, PartPrice>;
  model_ratio?: number;
  group_ratio?: number;
  tier?: { above: number; input: number; output: number };
  priced_as_input_or_output?: string[];
  unpaid?: number;
}

/** Short names of the priced parts, in the order the table lists them. */
export const PART_NAMES: [string, string][] = [
  ['input', 'in'], ['cache_read', 'cache read'], ['cache_write_5m', 'cache write 5m'], ['cache_write_1h', 'cache write 1h'],
  ['audio_input', 'audio in'], ['output', 'out'], ['audio_output', 'audio out'],
];

/** Cache reads, cache writes (5m + 1h) and reasoning tokens of a row; 0 when it has none (One API's rows). */
export function partCounts(detail: UsageDetail | null | undefined): { cacheRead: number; cacheWrite: number; reasoning: number } {
  const u = detail?.usage ?? {};
  return { cacheRead: u.cached ?? 0, cacheWrite: (u.cache_write_5m ?? 0) + (u.cache_write_1h ?? 0), reasoning: u.reasoning ?? 0 };
}

/** "cache read 48000 × $0.3/M · out 800 × $15/M": each priced part with its list price per million tokens. */
export function partPrices(detail: UsageDetail | null | undefined): string {
  const parts = detail?.parts ?? {};
  return PART_NAMES.filter(([key]) => parts[key]?.tokens)
    .map(([key, label]) => `${label} ${parts[key].tokens} × $${parts[key].usd_per_mtok}/M`)
    .join(' · ');
}
