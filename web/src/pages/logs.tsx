// Usage logs with One API's filters and the consumed-quota total; admins see everyone's and can purge old rows.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, toast } from '../components/feedback';
import { Field } from '../components/form';
import { Badge, Empty, Pager } from '../components/table';
import { call, get, withQuery } from '../lib/api';
import { formatTime, fromLocalInput, renderQuota, toLocalInput } from '../lib/format';
import { t } from '../lib/i18n';
import { isAdmin, user } from '../lib/session';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import { partCounts, partPrices, type UsageDetail } from '../lib/usage-detail';

interface LogRow {
  id: number;
  user_id: number;
  created_at: number;
  type: number;
  content: string;
  username: string;
  token_name: string;
  model_name: string;
  quota: number;
  prompt_tokens: number;
  completion_tokens: number;
  channel: number;
  request_id: string;
  elapsed_time: number;
  is_stream: boolean;
  usage_source?: string;
  usage_detail?: UsageDetail | null;
}

const TYPES: [number, string, 'green' | 'blue' | 'orange' | 'grey'][] = [
  [1, 'Top-up', 'green'], [2, 'Consume', 'blue'], [3, 'Manage', 'orange'], [4, 'System', 'grey'], [5, 'Test', 'grey'],
];

function typeBadge(type: number) {
  const found = TYPES.find(([n]) => n === type);
  return found ? <Badge tone={found[2]}>{t(found[1])}</Badge> : <Badge tone="grey">{t('Unknown')}</Badge>;
}

interface Filters {
  type: string;
  token_name: string;
  model_name: string;
  username: string;
  channel: string;
  start: string;
  end: string;
}

export function Logs() {
  const s = useStore(status);
  const me = useStore(user);
  const admin = isAdmin(me);
  const [draft, setDraft] = useState<Filters>({ type: '0', token_name: '', model_name: '', username: '', channel: '', start: '', end: '' });
  const [filters, setFilters] = useState(draft);
  const [page, setPage] = useState(0);
  const [rows, setRows] = useState<LogRow[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [purgeBefore, setPurgeBefore] = useState(toLocalInput(Date.now() / 1000 - 30 * 86400));

  const query = (f: Filters) => ({
    type: Number(f.type) || undefined, token_name: f.token_name.trim(), model_name: f.model_name.trim(),
    start_timestamp: f.start ? fromLocalInput(f.start) : undefined, end_timestamp: f.end ? fromLocalInput(f.end) : undefined,
    ...(admin ? { username: f.username.trim(), channel: Number(f.channel) || undefined } : {}),
  });
  const listPath = admin ? '/api/log/' : '/api/log/self';
  const statPath = admin ? '/api/log/stat' : '/api/log/self/stat';
  const load = async () => {
    setLoading(true);
    const q = query(filters);
    const [list, stat] = await Promise.all([
      attempt(() => get<LogRow[]>(listPath, { ...q, p: page })),
      attempt(() => get<{ quota: number }>(statPath, q)),
    ]);
    setLoading(false);
    if (list) setRows(list);
    if (stat) setTotal(stat.quota);
  };
  useEffect(() => {
    load();
  }, [filters, page]);

  const set = (key: keyof Filters) => (e: Event) => setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value });
  const apply = (e: Event) => {
    e.preventDefault();
    setPage(0);
    setFilters({ ...draft });
  };
  const purge = async () => {
    const ts = fromLocalInput(purgeBefore);
    if (!(await confirmAction(t('Delete every log row older than {time}?', { time: formatTime(ts) })))) return;
    const count = await attempt(() => call<number>('DELETE', withQuery('/api/log/', { target_timestamp: ts })));
    if (count !== undefined) {
      toast.success(t('{n} log rows deleted', { n: count }));
      load();
    }
  };

  return (
    <div class="stack">
      <h1 class="page-title">{admin ? t('All logs') : t('Logs')}</h1>
      <form class="card filters" onSubmit={apply}>
        <Field label={t('Type')}>
          <select class="input" name="type" value={draft.type} onChange={set('type')}>
            <option value="0">{t('All')}</option>
            {TYPES.map(([n, label]) => <option key={n} value={String(n)}>{t(label)}</option>)}
          </select>
        </Field>
        <Field label={t('Token name')}><input class="input" name="token_name" value={draft.token_name} onInput={set('token_name')} /></Field>
        <Field label={t('Model')}><input class="input" name="model_name" value={draft.model_name} onInput={set('model_name')} /></Field>
        {admin && <Field label={t('Username')}><input class="input" name="username" value={draft.username} onInput={set('username')} /></Field>}
        {admin && <Field label={t('Channel ID')}><input class="input" name="channel" inputMode="numeric" value={draft.channel} onInput={set('channel')} /></Field>}
        <Field label={t('From')}><input class="input" type="datetime-local" name="start" value={draft.start} onInput={set('start')} /></Field>
        <Field label={t('To')}><input class="input" type="datetime-local" name="end" value={draft.end} onInput={set('end')} /></Field>
        <div class="filters-actions">
          <button class="btn btn-primary" type="submit">{t('Query')}</button>
        </div>
      </form>
      <div class="card">
        <div class="row between wrap">
          <span>{t('Consumed (matching rows)')}: <strong data-testid="log-total">{total === null ? '…' : renderQuota(total, s)}</strong></span>
          <button class="btn btn-small" onClick={load}>{t('Refresh')}</button>
        </div>
        {rows.length === 0 ? <Empty loading={loading}>{t('No log rows match.')}</Empty> : (
          <div class="table-wrap">
            <table class="table" data-testid="logs-table">
              <thead>
                <tr>
                  <th>{t('Time')}</th>
                  {admin && <th>{t('Channel')}</th>}
                  {admin && <th>{t('User')}</th>}
                  <th>{t('Token')}</th><th>{t('Type')}</th><th>{t('Model')}</th>
                  <th class="num">{t('Prompt')}</th><th class="num">{t('Completion')}</th>
                  <th class="num">{t('Cache read')}</th><th class="num">{t('Cache write')}</th><th class="num">{t('Reasoning')}</th>
                  <th class="num">{t('Quota')}</th>
                  <th>{t('Details')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row, i) => {
                  const parts = partCounts(row.usage_detail);
                  const prices = partPrices(row.usage_detail);
                  return (
                  <tr key={row.id || i} data-type={row.type}>
                    <td class="nowrap">{formatTime(row.created_at)}</td>
                    {admin && <td>{row.channel || ''}</td>}
                    {admin && <td>{row.username}</td>}
                    <td>{row.token_name}</td>
                    <td>{typeBadge(row.type)}</td>
                    <td>{row.model_name}</td>
                    <td class="num">{row.prompt_tokens || ''}</td>
                    <td class="num">{row.completion_tokens || ''}</td>
                    <td class="num" data-testid="cache-read">{parts.cacheRead || ''}</td>
                    <td class="num" data-testid="cache-write">{parts.cacheWrite || ''}</td>
                    <td class="num" data-testid="reasoning">{parts.reasoning || ''}</td>
                    <td class="num">{row.quota ? renderQuota(row.quota, s) : ''}</td>
                    <td class="details">
                      {row.content}
                      {row.elapsed_time > 0 && <span class="muted"> · {(row.elapsed_time / 1000).toFixed(2)}s</span>}
                      {row.is_stream && <span class="muted"> · {t('stream')}</span>}
                      {row.usage_source && <span class="muted"> · {t('usage')}: {row.usage_source}</span>}
                      {prices && <div class="muted" data-testid="part-prices">{prices}</div>}
                      {row.usage_detail?.tier && <div class="muted">{t('Long-context tier: prompt above {n} tokens', { n: row.usage_detail.tier.above })}</div>}
                      {row.usage_detail?.unpaid ? <div class="muted">{t('Not charged (no balance left)')}: {row.usage_detail.unpaid}</div> : null}
                    </td>
                  </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager page={page} rows={rows.length} onPage={setPage} />
      </div>
      {admin && (
        <div class="card row wrap">
          <span>{t('Delete log rows older than')}</span>
          <input class="input input-auto" type="datetime-local" value={purgeBefore} onInput={(e) => setPurgeBefore((e.currentTarget as HTMLInputElement).value)} />
          <button class="btn btn-danger" onClick={purge}>{t('Delete old logs')}</button>
        </div>
      )}
    </div>
  );
}
