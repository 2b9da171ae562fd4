import { describe, expect, it } from 'vitest';
import { partCounts, partPrices } from './usage-detail';

const claudeTurn = {
  usage: { cached: 48000, cache_write_1h: 2500 },
  parts: {
    input: { tokens: 1200, ratio: 1, usd_per_mtok: 3, quota: 1800 },
    cache_read: { tokens: 48000, ratio: 0.1, usd_per_mtok: 0.3, quota: 7200 },
    cache_write_1h: { tokens: 2500, ratio: 2, usd_per_mtok: 6, quota: 7500 },
    output: { tokens: 800, ratio: 5, usd_per_mtok: 15, quota: 6000 },
  },
  model_ratio: 1.5, group_ratio: 1,
};

describe('usage breakdown', () => {
  it('counts cache reads, writes and reasoning', () => {
    expect(partCounts(claudeTurn)).toEqual({ cacheRead: 48000, cacheWrite: 2500, reasoning: 0 });
    expect(partCounts(null)).toEqual({ cacheRead: 0, cacheWrite: 0, reasoning: 0 });
  });
  it('names every priced part with its list price', () => {
    expect(partPrices(claudeTurn)).toBe('in 1200 × $3/M · cache read 48000 × $0.3/M · cache write 1h 2500 × $6/M · out 800 × $15/M');
    expect(partPrices(undefined)).toBe('');
  });
});
