import { describe, expect, it } from 'vitest';
import { formatUsd, inputToQuota, quotaToInput, renderQuota } from './format';

const usd = { display_in_currency: true, quota_per_unit: 500000 };
const raw = { display_in_currency: false, quota_per_unit: 500000 };

describe('quota display', () => {
  it('shows USD as quota / QuotaPerUnit when DisplayInCurrencyEnabled', () => {
    expect(renderQuota(500000, usd)).toBe('$1.00');
    expect(renderQuota(500_000_000_000_000, usd)).toBe('$1,000,000,000.00');
    expect(renderQuota(1234567, usd)).toBe('$2.47');
  });
  it('keeps a single request cost visible', () => {
    expect(renderQuota(27, usd)).toBe('$0.000054');
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(-0.000002)).toBe('-$0.000002');
  });
  it('shows raw quota otherwise', () => {
    expect(renderQuota(1234567, raw)).toBe('1,234,567');
  });
  it('converts form input in the display unit', () => {
    expect(inputToQuota('1.5', usd)).toBe(750000);
    expect(inputToQuota('1500', raw)).toBe(1500);
    expect(inputToQuota('abc', usd)).toBeNaN();
    expect(inputToQuota('', usd)).toBeNaN();
    expect(quotaToInput(750000, usd)).toBe('1.5');
    expect(quotaToInput(750000, raw)).toBe('750000');
    expect(inputToQuota(quotaToInput(123457, usd), usd)).toBe(123457);
  });
});
