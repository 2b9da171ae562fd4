// Top-up: the balance, redeeming a code, and the button to the operator's payment page (TopUpLink).
import { useEffect, useState } from 'preact/hooks';
import { attempt, toast } from '../components/feedback';
import { Field } from '../components/form';
import { get, post } from '../lib/api';
import { randomId, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import { topUpUrl } from '../lib/topup';
import type { User } from '../lib/users';

export function TopUp() {
  const s = useStore(status);
  const [me, setMe] = useState<User | null>(null);
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const refresh = () => attempt(() => get<User>('/api/user/self')).then((u) => u && setMe(u));
  useEffect(() => {
    refresh();
  }, []);
  const redeem = async (e: Event) => {
    e.preventDefault();
    if (!key.trim()) return toast.error(t('Enter a redemption code.'));
    setBusy(true);
    const added = await attempt(() => post<number>('/api/user/topup', { key: key.trim() }));
    setBusy(false);
    if (added === undefined) return;
    toast.success(t('Redeemed: {amount} added', { amount: renderQuota(added, s) }));
    setKey('');
    refresh();
  };
  const pay = () => {
    if (!me) return;
    window.open(topUpUrl(s.top_up_link, me.username, me.id, randomId()), '_blank', 'noopener');
  };
  return (
    <div class="stack">
      <h1 class="page-title">{t('Top up')}</h1>
      <div class="stats">
        <div class="stat card"><span class="stat-label">{t('Balance')}</span>
          <span class="stat-value" data-testid="balance">{me ? renderQuota(me.quota, s) : '…'}</span></div>
        <div class="stat card"><span class="stat-label">{t('Used quota')}</span>
          <span class="stat-value">{me ? renderQuota(me.used_quota, s) : '…'}</span></div>
      </div>
      <form class="card stack" onSubmit={redeem}>
        <h2>{t('Redeem a code')}</h2>
        <Field label={t('Redemption code')}>
          <input class="input mono" name="redemption-key" value={key} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} />
        </Field>
        <div class="row">
          <button class="btn btn-primary" type="submit" disabled={busy}>{t('Redeem')}</button>
          {s.top_up_link && <button type="button" class="btn" onClick={pay}>{t('Buy a code')}</button>}
        </div>
        {!s.top_up_link && <p class="muted">{t('The administrator has not set a payment page; ask them for a redemption code.')}</p>}
      </form>
    </div>
  );
}
