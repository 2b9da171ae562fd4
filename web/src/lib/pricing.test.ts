import { describe, expect, it } from 'vitest';
import { changeLines, filterModels, importBody, tierText, usd, type ImportRow, type ModelPrice } from './pricing';

const price = (model: string): ModelPrice => ({ model, model_ratio: 1, completion_ratio: 1, priced: true, parts: {}, tiers: [] });

describe('price page', () => {
  it('filters models by every word of the search', () => {
    const models = ['claude-sonnet-4-6', 'claude-haiku-4-5', 'gpt-5.4'].map(price);
    expect(filterModels(models, 'claude').map((m) => m.model)).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5']);
    expect(filterModels(models, ' Claude  SONNET ').map((m) => m.model)).toEqual(['claude-sonnet-4-6']);
    expect(filterModels(models, '').length).toBe(3);
    expect(filterModels(models, 'gemini')).toEqual([]);
  });
  it('writes dollars without float noise', () => {
    expect(usd(0.30000000000000004)).toBe('$0.3');
    expect(usd(15)).toBe('$15');
    expect(usd(0.075)).toBe('$0.075');
    expect(usd(0)).toBe('$0');
  });
  it('writes tiers', () => {
    expect(tierText([{ above: 200000, input: { usd_per_mtok: 6, quota_per_token: 3 }, output: { usd_per_mtok: 22.5, quota_per_token: 11.25 } }]))
      .toBe('>200000: in $6 · out $22.5');
    expect(tierText([])).toBe('');
  });
});

describe('price import', () => {
  it('lists each changed part old → new', () => {
    const row: ImportRow = { model: 'm', status: 'changed', removed: ['tiers'], changes: {
      input: { old: 3, new: 2.5 },
      tiers: { old: [{ above: 200000, input: 6, output: 22.5 }], new: [] },
    } };
    expect(changeLines(row)).toEqual(['input: $3 → $2.5', 'tiers: >200000: $6 / $22.5 → —']);
  });
  it('sends a URL as {url} and a file as its JSON', () => {
    expect(importBody(' https://example.com/prices.json\n')).toEqual({ url: 'https://example.com/prices.json' });
    expect(importBody('{"models": {"m": {"input": 1, "output": 2}}}')).toEqual({ models: { m: { input: 1, output: 2 } } });
    expect(() => importBody('{nope')).toThrow(/not a URL and not valid JSON/);
  });
});
