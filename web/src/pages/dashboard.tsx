// The user's dashboard: balance, used quota, request count, limits and budgets, and the last 7 days of usage per model.
import { useEffect, useState } from 'preact/hooks';
import { StackedBars } from '../components/chart';
import { attempt } from '../components/feedback';
import { BudgetsCell } from '../components/limits-fields';
import { get } from '../lib/api';
import { compactNumber, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import { buildSeries, type Metric, type UsageRow } from '../lib/usage';
import type { User } from '../lib/users';

export function Dashboard() {
  const s = useStore(status);
  const [me, setMe] = useState<User | null>(null);
  const [rows, setRows] = useState<UsageRow[]>([]);
  const [metric, setMetric] = useState<Metric>('quota');
  useEffect(() => {
    attempt(() => get<User>('/api/user/self')).then((u) => u && setMe(u));
    attempt(() => get<UsageRow[]>('/api/user/dashboard')).then((r) => r && setRows(r));
  }, []);
  const series = buildSeries(rows, metric, new Date());
  const format = (v: number) => (metric === 'quota' ? renderQuota(v, s) : compactNumber(v));
  const byModel = buildSeries(rows, 'quota', new Date()).models.map((model) => {
    const mine = rows.filter((r) => r.ModelName === model);
    return {
      model,
      requests: mine.reduce((a, r) => a + r.RequestCount, 0),
      tokens: mine.reduce((a, r) => a + r.PromptTokens + r.CompletionTokens, 0),
      quota: mine.reduce((a, r) => a + r.Quota, 0),
    };
  });
  return (
    <div class="stack">
      <h1 class="page-title">{t('Dashboard')}</h1>
      <div class="stats">
        <div class="stat card"><span class="stat-label">{t('Balance')}</span>
          <span class="stat-value" data-testid="balance">{me ? renderQuota(me.quota, s) : '…'}</span></div>
        <div class="stat card"><span class="stat-label">{t('Used quota')}</span>
          <span class="stat-value" data-testid="used-quota">{me ? renderQuota(me.used_quota, s) : '…'}</span></div>
        <div class="stat card"><span class="stat-label">{t('Requests')}</span>
          <span class="stat-value" data-testid="request-count">{me ? me.request_count.toLocaleString() : '…'}</span></div>
      </div>
      {me && (me.rpm_limit || me.tpm_limit || me.max_parallel_requests || me.budgets?.length) ? (
        <section class="card" data-testid="limits">
          <h2>{t('Limits')}</h2>
          <dl class="facts">
            <dt>{t('Requests per minute')}</dt><dd>{me.rpm_limit || t('Unlimited')}</dd>
            <dt>{t('Tokens per minute')}</dt><dd>{me.tpm_limit || t('Unlimited')}</dd>
            <dt>{t('Requests at once')}</dt><dd>{me.max_parallel_requests || t('Unlimited')}</dd>
            <dt>{t('Budgets')}</dt><dd><BudgetsCell budgets={me.budgets} unit={s} /></dd>
          </dl>
        </section>
      ) : null}
      <section class="card">
        <div class="row between">
          <h2>{t('Usage of the last 7 days')}</h2>
          <div class="segmented" role="group">
            {(['quota', 'requests', 'tokens'] as Metric[]).map((m) => (
              <button key={m} class={metric === m ? 'active' : ''} onClick={() => setMetric(m)}>
                {m === 'quota' ? t('Quota') : m === 'requests' ? t('Requests') : t('Tokens')}
              </button>
            ))}
          </div>
        </div>
        <StackedBars series={series} format={format} />
      </section>
      {byModel.length > 0 && (
        <section class="card">
          <h2>{t('By model')}</h2>
          <table class="table">
            <thead><tr><th>{t('Model')}</th><th class="num">{t('Requests')}</th><th class="num">{t('Tokens')}</th><th class="num">{t('Quota')}</th></tr></thead>
            <tbody>
              {byModel.map((m) => (
                <tr key={m.model}><td>{m.model}</td><td class="num">{m.requests}</td><td class="num">{m.tokens}</td><td class="num">{renderQuota(m.quota, s)}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
