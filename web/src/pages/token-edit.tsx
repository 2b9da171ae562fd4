// Create or edit a token: name, expiry, quota or unlimited, model allow-list, allowed subnets, limits and budgets.
import { useEffect, useState } from 'preact/hooks';
import { attempt, toast } from '../components/feedback';
import { Field, NameList, Toggle } from '../components/form';
import { LimitsFields } from '../components/limits-fields';
import { get, post, put } from '../lib/api';
import { fromLocalInput, inputToQuota, quotaToInput, renderQuota, toLocalInput } from '../lib/format';
import { t } from '../lib/i18n';
import { formToLimits, limitsToForm, NO_LIMITS, type BudgetState, type LimitsForm } from '../lib/limits';
import { navigate } from '../lib/router';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import type { Token } from '../lib/tokens';
import { checkSubnets, splitList } from '../lib/validate';
import type { PageProps } from '../routes';

interface Form {
  name: string;
  never: boolean;
  expires: string;
  unlimited: boolean;
  quota: string;
  models: string[];
  subnet: string;
  limits: LimitsForm;
}

export function TokenEdit({ params }: PageProps) {
  const s = useStore(status);
  const id = params.id ? Number(params.id) : 0;
  const [form, setForm] = useState<Form>({
    name: '', never: true, expires: toLocalInput(Date.now() / 1000 + 30 * 86400), unlimited: false,
    quota: quotaToInput(s.quota_per_unit || 500000, s), models: [], subnet: '', limits: NO_LIMITS,
  });
  const [current, setCurrent] = useState<BudgetState[]>([]);
  const [available, setAvailable] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));

  useEffect(() => {
    attempt(() => get<string[]>('/api/user/available_models')).then((m) => m && setAvailable(m));
    if (!id) return;
    attempt(() => get<Token>(`/api/token/${id}`)).then((token) => {
      if (!token) return;
      setForm({
        name: token.name, never: token.expired_time === -1,
        expires: toLocalInput(token.expired_time === -1 ? Date.now() / 1000 + 30 * 86400 : token.expired_time),
        unlimited: token.unlimited_quota, quota: quotaToInput(token.remain_quota, s),
        models: splitList(token.models ?? ''), subnet: token.subnet ?? '', limits: limitsToForm(token, s),
      });
      setCurrent(token.budgets ?? []);
    });
  }, [id]);

  const quota = inputToQuota(form.quota, s);
  const subnetError = checkSubnets(form.subnet);
  const nameError = new TextEncoder().encode(form.name).length > 30 ? t('At most 30 bytes') : null;
  const quotaError = !form.unlimited && (Number.isNaN(quota) || quota < 0) ? t('Enter a number of at least 0') : null;
  const shift = (seconds: number) => set({ never: false, expires: toLocalInput(Date.now() / 1000 + seconds) });

  const submit = async (e: Event) => {
    e.preventDefault();
    if (subnetError || nameError || quotaError) return toast.error(subnetError || nameError || quotaError || '');
    const limits = formToLimits(form.limits, s);
    if ('error' in limits) return toast.error(limits.error);
    const body = {
      ...limits,
      name: form.name, expired_time: form.never ? -1 : fromLocalInput(form.expires),
      remain_quota: form.unlimited ? 0 : quota, unlimited_quota: form.unlimited,
      models: form.models.join(','), subnet: splitList(form.subnet).join(','),
    };
    setBusy(true);
    const done = await attempt(() => (id ? put('/api/token/', { ...body, id }) : post('/api/token/', body)));
    setBusy(false);
    if (done === undefined) return;
    toast.success(id ? t('Token updated') : t('Token created'));
    navigate('/token');
  };

  return (
    <div class="stack">
      <h1 class="page-title">{id ? t('Edit token') : t('Add token')}</h1>
      <form class="card form-grid" onSubmit={submit}>
        <Field label={t('Name')} error={nameError}>
          <input class="input" name="name" value={form.name} onInput={(e) => set({ name: (e.currentTarget as HTMLInputElement).value })} required />
        </Field>
        <Field label={t('Expires')}>
          <div class="stack-tight">
            <Toggle name="never" checked={form.never} onChange={(never) => set({ never })} label={t('Never expires')} />
            {!form.never && (
              <input class="input" type="datetime-local" name="expires" value={form.expires}
                onInput={(e) => set({ expires: (e.currentTarget as HTMLInputElement).value })} />
            )}
            <div class="row wrap">
              <button type="button" class="btn btn-small" onClick={() => shift(3600)}>{t('1 hour')}</button>
              <button type="button" class="btn btn-small" onClick={() => shift(86400)}>{t('1 day')}</button>
              <button type="button" class="btn btn-small" onClick={() => shift(30 * 86400)}>{t('1 month')}</button>
              <button type="button" class="btn btn-small" onClick={() => set({ never: true })}>{t('Never')}</button>
            </div>
          </div>
        </Field>
        <Field label={s.display_in_currency ? t('Quota (USD)') : t('Quota')} error={quotaError}
          hint={form.unlimited ? t('Unlimited tokens still count their use.') : !Number.isNaN(quota) && t('= {quota} quota ({shown})', { quota, shown: renderQuota(quota, s) })}>
          <div class="stack-tight">
            <Toggle name="unlimited" checked={form.unlimited} onChange={(unlimited) => set({ unlimited })} label={t('Unlimited quota')} />
            {!form.unlimited && (
              <input class="input" name="quota" inputMode="decimal" value={form.quota} onInput={(e) => set({ quota: (e.currentTarget as HTMLInputElement).value })} />
            )}
          </div>
        </Field>
        <Field label={t('Allowed models')} hint={t('Empty: every model of your group.')} wide>
          <NameList name="models" values={form.models} onChange={(models) => set({ models })} suggestions={available} placeholder={t('all models')} />
        </Field>
        <Field label={t('Allowed subnets')} error={subnetError} hint={t('Comma-separated CIDRs, e.g. 192.168.0.0/24,10.0.0.1/32. Empty: any address.')} wide>
          <input class="input mono" name="subnet" value={form.subnet} onInput={(e) => set({ subnet: (e.currentTarget as HTMLInputElement).value })} />
        </Field>
        <LimitsFields value={form.limits} onChange={(limits) => set({ limits })} unit={s} current={current} />
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => navigate('/token')}>{t('Cancel')}</button>
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="submit-token">{t('Submit')}</button>
        </div>
      </form>
    </div>
  );
}
