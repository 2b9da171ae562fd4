// Quota shown as One API's UI shows it: USD (quota / QuotaPerUnit) when DisplayInCurrencyEnabled, else raw points.
export interface QuotaUnit {
  display_in_currency: boolean;
  quota_per_unit: number;
}

const perUnit = (u: QuotaUnit): number => (u.quota_per_unit > 0 ? u.quota_per_unit : 500000);

/** Dollars with two decimals, or up to six significant ones for amounts under a cent (a single request's cost). */
export function formatUsd(amount: number): string {
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  if (abs === 0) return '$0.00';
  // one quota is $0.000002 by default: six decimals show a single request's cost exactly
  if (abs < 0.01) return `${sign}$${abs.toFixed(6).replace(/0+$/, '').replace(/\.$/, '.00')}`;
  return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function renderQuota(quota: number, unit: QuotaUnit): string {
  if (unit.display_in_currency) return formatUsd(quota / perUnit(unit));
  return Math.round(quota).toLocaleString('en-US');
}

/** The amount a form shows for `quota`, in the display unit, without grouping (editable). */
export function quotaToInput(quota: number, unit: QuotaUnit): string {
  if (!unit.display_in_currency) return String(quota);
  return String(Number((quota / perUnit(unit)).toFixed(6)));
}

/** The integer quota for what a form holds in the display unit; NaN when it is not a number. */
export function inputToQuota(text: string, unit: QuotaUnit): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value)) return NaN;
  return Math.round(unit.display_in_currency ? value * perUnit(unit) : value);
}

export function formatTime(seconds: number): string {
  if (!seconds) return '-';
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `<input type="datetime-local">` value for unix seconds, and back. */
export function toLocalInput(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): number {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

export function compactNumber(n: number): string {
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function randomId(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}
