import { describe, expect, it } from 'vitest';
import { formToLimits, limitsToForm } from './limits';

const USD = { display_in_currency: true, quota_per_unit: 500000 };

describe('limits form', () => {
  it('round-trips limits and budgets in the display unit', () => {
    const form = limitsToForm({ rpm_limit: 10, tpm_limit: 0, max_parallel_requests: 3,
      budgets: [{ period: '5h', quota: 2500000, used: 1, resets_at: 2 }] }, USD);
    expect(form).toEqual({ rpm: '10', tpm: '0', parallel: '3', budgets: [{ period: '5h', quota: '5' }] });
    expect(formToLimits(form, USD)).toEqual({ rpm_limit: 10, tpm_limit: 0, max_parallel_requests: 3,
      budgets: [{ period: '5h', quota: 2500000 }] });
  });
  it('refuses what the API would refuse', () => {
    expect(formToLimits({ rpm: '-1', tpm: '0', parallel: '0', budgets: [] }, USD)).toHaveProperty('error');
    expect(formToLimits({ rpm: '1.5', tpm: '0', parallel: '0', budgets: [] }, USD)).toHaveProperty('error');
    expect(formToLimits({ rpm: '0', tpm: '0', parallel: '0',
      budgets: [{ period: 'day', quota: '1' }, { period: 'day', quota: '2' }] }, USD)).toHaveProperty('error');
  });
});
