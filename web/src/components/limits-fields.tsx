// The limits part of the token and user forms: RPM, TPM, concurrency, and budgets per period (#17).
import { Field } from './form';
import { formatTime, renderQuota, type QuotaUnit } from '../lib/format';
import { t } from '../lib/i18n';
import { PERIODS, periodName, type BudgetState, type LimitsForm, type Period } from '../lib/limits';

interface Props {
  value: LimitsForm;
  onChange: (next: LimitsForm) => void;
  unit: QuotaUnit;
  current?: BudgetState[];   // as read back: each budget's use and reset
}

export function LimitsFields({ value, onChange, unit, current = [] }: Props) {
  const set = (patch: Partial<LimitsForm>) => onChange({ ...value, ...patch });
  const input = (name: 'rpm' | 'tpm' | 'parallel') => (e: Event) => set({ [name]: (e.currentTarget as HTMLInputElement).value });
  const free = PERIODS.filter((p) => !value.budgets.some((b) => b.period === p));
  const setBudget = (i: number, patch: Partial<{ period: Period; quota: string }>) =>
    set({ budgets: value.budgets.map((b, j) => (j === i ? { ...b, ...patch } : b)) });
  return (
    <>
      <Field label={t('Requests per minute')} hint={t('0: unlimited')}>
        <input class="input" name="rpm_limit" inputMode="numeric" value={value.rpm} onInput={input('rpm')} />
      </Field>
      <Field label={t('Tokens per minute')} hint={t('Input and output tokens; 0: unlimited')}>
        <input class="input" name="tpm_limit" inputMode="numeric" value={value.tpm} onInput={input('tpm')} />
      </Field>
      <Field label={t('Requests at once')} hint={t('Streams included; 0: unlimited')}>
        <input class="input" name="max_parallel_requests" inputMode="numeric" value={value.parallel} onInput={input('parallel')} />
      </Field>
      <Field label={t('Budgets')} hint={t('At most this much spent per period; refilled by itself when the period ends.')} wide>
        <div class="stack-tight" data-testid="budgets">
          {value.budgets.map((b, i) => {
            const now = current.find((c) => c.period === b.period);
            return (
              <div class="row wrap" key={b.period}>
                <select class="input" name={`budget-period-${i}`} value={b.period}
                  onChange={(e) => setBudget(i, { period: (e.currentTarget as HTMLSelectElement).value as Period })}>
                  {[b.period, ...free].map((p) => <option key={p} value={p}>{periodName(p)}</option>)}
                </select>
                <input class="input" name={`budget-quota-${i}`} inputMode="decimal" value={b.quota}
                  onInput={(e) => setBudget(i, { quota: (e.currentTarget as HTMLInputElement).value })} />
                {now && <span class="field-hint">{t('{used} used, refills {when}', { used: renderQuota(now.used, unit), when: formatTime(now.resets_at) })}</span>}
                <button type="button" class="btn btn-small" onClick={() => set({ budgets: value.budgets.filter((_, j) => j !== i) })}>{t('Remove')}</button>
              </div>
            );
          })}
          {free.length > 0 && (
            <div><button type="button" class="btn btn-small" onClick={() => set({ budgets: [...value.budgets, { period: free[0], quota: '0' }] })}>{t('Add budget')}</button></div>
          )}
        </div>
      </Field>
    </>
  );
}

/** One line per budget for a table cell: "5 hours: $1.20 / $5.00". */
export function BudgetsCell({ budgets, unit }: { budgets?: BudgetState[]; unit: QuotaUnit }) {
  if (!budgets || budgets.length === 0) return <>-</>;
  return (
    <div class="stack-tight">
      {budgets.map((b) => (
        <span key={b.period} title={t('Refills {when}', { when: formatTime(b.resets_at) })}>
          {periodName(b.period)}: {renderQuota(b.used, unit)} / {renderQuota(b.quota, unit)}
        </span>
      ))}
    </div>
  );
}
