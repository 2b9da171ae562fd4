// Admin: create a user, or edit one's names, password, group, quota, limits and budgets.
import { useEffect, useState } from 'preact/hooks';
import { attempt, toast } from '../components/feedback';
import { Field } from '../components/form';
import { LimitsFields } from '../components/limits-fields';
import { get, post, put } from '../lib/api';
import { inputToQuota, quotaToInput, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { formToLimits, limitsToForm, NO_LIMITS } from '../lib/limits';
import { navigate } from '../lib/router';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import type { User } from '../lib/users';
import type { PageProps } from '../routes';

export function UserEdit({ params }: PageProps) {
  const s = useStore(status);
  const id = params.id ? Number(params.id) : 0;
  const [form, setForm] = useState({ username: '', display_name: '', password: '', group: 'default', quota: '0' });
  const [original, setOriginal] = useState<User | null>(null);
  const [groups, setGroups] = useState<string[]>(['default']);
  const [limits, setLimits] = useState(NO_LIMITS);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  useEffect(() => {
    if (!id) return;
    attempt(() => get<string[]>('/api/group/')).then((g) => g && setGroups(g.sort()));
    attempt(() => get<User>(`/api/user/${id}`)).then((u) => {
      if (!u) return;
      setOriginal(u);
      setForm({ username: u.username, display_name: u.display_name, password: '', group: u.group, quota: quotaToInput(u.quota, s) });
      setLimits(limitsToForm(u, s));
    });
  }, [id]);
  const quota = inputToQuota(form.quota, s);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (form.password && (form.password.length < 8 || form.password.length > 20)) return toast.error(t('The password must be 8 to 20 characters.'));
    let done: unknown;
    if (id) {
      if (Number.isNaN(quota) || quota < 0) return toast.error(t('Enter a number of at least 0'));
      const chosen = formToLimits(limits, s);
      if ('error' in chosen) return toast.error(chosen.error);
      done = await attempt(() => put('/api/user/', { id, username: form.username, display_name: form.display_name,
        password: form.password, group: form.group, quota, ...chosen }));
    } else {
      done = await attempt(() => post('/api/user/', { username: form.username, display_name: form.display_name || form.username, password: form.password }));
    }
    if (done === undefined) return;
    toast.success(id ? t('User updated') : t('User created'));
    navigate('/user');
  };
  return (
    <div class="stack">
      <h1 class="page-title">{id ? t('Edit user') : t('Add user')}</h1>
      <form class="card form-grid" onSubmit={submit}>
        <Field label={t('Username')} hint={t('At most 12 characters')}>
          <input class="input" name="username" value={form.username} onInput={set('username')} required maxLength={12} />
        </Field>
        <Field label={t('Display name')}><input class="input" name="display_name" value={form.display_name} onInput={set('display_name')} maxLength={20} /></Field>
        <Field label={id ? t('New password') : t('Password')} hint={id ? t('Leave empty to keep the current one') : t('8 to 20 characters')}>
          <input class="input" type="password" name="password" autoComplete="new-password" value={form.password} onInput={set('password')} required={!id} />
        </Field>
        {id > 0 && (
          <>
            <Field label={t('Group')}>
              <select class="input" name="group" value={form.group} onChange={set('group')}>
                {[...new Set([...groups, form.group])].map((g) => <option key={g} value={g}>{g}</option>)}
              </select>
            </Field>
            <Field label={s.display_in_currency ? t('Quota (USD)') : t('Quota')} hint={!Number.isNaN(quota) ? t('= {quota} quota ({shown})', { quota, shown: renderQuota(quota, s) }) : undefined}>
              <input class="input" name="quota" inputMode="decimal" value={form.quota} onInput={set('quota')} />
            </Field>
            <LimitsFields value={limits} onChange={setLimits} unit={s} current={original?.budgets ?? []} />
            {original && (
              <dl class="facts field-wide">
                <dt>{t('Email')}</dt><dd>{original.email || '-'}</dd>
                <dt>GitHub</dt><dd>{original.github_id || '-'}</dd>
                <dt>{t('WeChat')}</dt><dd>{original.wechat_id || '-'}</dd>
                <dt>{t('Lark')}</dt><dd>{original.lark_id || '-'}</dd>
                <dt>{t('Used quota')}</dt><dd>{renderQuota(original.used_quota, s)}</dd>
              </dl>
            )}
          </>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => navigate('/user')}>{t('Cancel')}</button>
          <button type="submit" class="btn btn-primary">{t('Submit')}</button>
        </div>
      </form>
    </div>
  );
}
