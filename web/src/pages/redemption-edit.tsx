// Admin: create 1–100 codes at once (then copy or download them), or rename / re-value one.
import { useEffect, useState } from 'preact/hooks';
import { attempt, toast } from '../components/feedback';
import { Field } from '../components/form';
import { KeysDialog } from '../components/keys-dialog';
import { get, post, put } from '../lib/api';
import { inputToQuota, quotaToInput, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { navigate } from '../lib/router';
import type { Redemption } from '../lib/redemptions';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import type { PageProps } from '../routes';

export function RedemptionEdit({ params }: PageProps) {
  const s = useStore(status);
  const id = params.id ? Number(params.id) : 0;
  const [form, setForm] = useState({ name: '', quota: quotaToInput(s.quota_per_unit || 500000, s), count: '1' });
  const [created, setCreated] = useState<string[] | null>(null);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  useEffect(() => {
    if (!id) return;
    attempt(() => get<Redemption>(`/api/redemption/${id}`)).then((c) => c && setForm({ name: c.name, quota: quotaToInput(c.quota, s), count: '1' }));
  }, [id]);
  const quota = inputToQuota(form.quota, s);
  const count = Number(form.count);
  const nameBytes = new TextEncoder().encode(form.name).length;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (nameBytes < 1 || nameBytes > 20) return toast.error(t('The name must be 1 to 20 bytes.'));
    if (Number.isNaN(quota) || quota < 0) return toast.error(t('Enter a number of at least 0'));
    if (id) {
      if ((await attempt(() => put('/api/redemption/', { id, name: form.name, quota }))) === undefined) return;
      toast.success(t('Code updated'));
      navigate('/redemption');
      return;
    }
    if (!Number.isInteger(count) || count < 1 || count > 100) return toast.error(t('Create 1 to 100 codes at a time.'));
    const keys = await attempt(() => post<string[]>('/api/redemption/', { name: form.name, quota, count }));
    if (keys) {
      toast.success(t('{n} codes created', { n: keys.length }));
      setCreated(keys);
    }
  };
  return (
    <div class="stack">
      <h1 class="page-title">{id ? t('Edit code') : t('Create codes')}</h1>
      <form class="card form-grid" onSubmit={submit}>
        <Field label={t('Name')} hint={t('1 to 20 bytes')}>
          <input class="input" name="name" value={form.name} onInput={set('name')} required />
        </Field>
        <Field label={s.display_in_currency ? t('Quota per code (USD)') : t('Quota per code')}
          hint={!Number.isNaN(quota) ? t('= {quota} quota ({shown})', { quota, shown: renderQuota(quota, s) }) : undefined}>
          <input class="input" name="quota" inputMode="decimal" value={form.quota} onInput={set('quota')} />
        </Field>
        {!id && (
          <Field label={t('How many')} hint={t('1 to 100')}>
            <input class="input" name="count" inputMode="numeric" value={form.count} onInput={set('count')} />
          </Field>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => navigate('/redemption')}>{t('Cancel')}</button>
          <button type="submit" class="btn btn-primary" data-testid="submit-codes">{t('Submit')}</button>
        </div>
      </form>
      {created && <KeysDialog title={t('New codes')} keys={created} fileName={`${form.name || 'codes'}.txt`} onClose={() => navigate('/redemption')} />}
    </div>
  );
}
