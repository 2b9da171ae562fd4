// Rate limits and budgets of a token or a user (#17): their JSON, the form's text fields, and the two ways between.
import { inputToQuota, quotaToInput, type QuotaUnit } from './format';
import { t } from './i18n';

export const PERIODS = ['5h', 'day', 'week', 'month'] as const;
export type Period = (typeof PERIODS)[number];

export interface BudgetState {
  period: Period;
  quota: number;
  used: number;
  resets_at: number;
}

export interface Limits {
  rpm_limit: number;
  tpm_limit: number;
  max_parallel_requests: number;
  budgets: BudgetState[];
}

export interface LimitsForm {
  rpm: string;
  tpm: string;
  parallel: string;
  budgets: { period: Period; quota: string }[];
}

export const NO_LIMITS: LimitsForm = { rpm: '0', tpm: '0', parallel: '0', budgets: [] };

export function limitsToForm(limits: Partial<Limits>, unit: QuotaUnit): LimitsForm {
  return {
    rpm: String(limits.rpm_limit ?? 0), tpm: String(limits.tpm_limit ?? 0),
    parallel: String(limits.max_parallel_requests ?? 0),
    budgets: (limits.budgets ?? []).map((b) => ({ period: b.period, quota: quotaToInput(b.quota, unit) })),
  };
}

const count = (text: string): number => (/^\s*\d+\s*$/.test(text) ? Number(text) : NaN);

/** The request fields for the form, or the first problem with it. */
export function formToLimits(form: LimitsForm, unit: QuotaUnit):
    { error: string } | { rpm_limit: number; tpm_limit: number; max_parallel_requests: number; budgets: { period: Period; quota: number }[] } {
  const [rpm, tpm, parallel] = [count(form.rpm), count(form.tpm), count(form.parallel)];
  if ([rpm, tpm, parallel].some(Number.isNaN)) return { error: t('Limits are whole numbers of at least 0') };
  const budgets = form.budgets.map((b) => ({ period: b.period, quota: inputToQuota(b.quota, unit) }));
  if (budgets.some((b) => Number.isNaN(b.quota) || b.quota < 0)) return { error: t('Enter a number of at least 0') };
  if (new Set(budgets.map((b) => b.period)).size !== budgets.length) return { error: t('One budget per period') };
  return { rpm_limit: rpm, tpm_limit: tpm, max_parallel_requests: parallel, budgets };
}

export function periodName(period: Period): string {
  return { '5h': t('5 hours'), day: t('Day'), week: t('Week'), month: t('Month') }[period];
}
