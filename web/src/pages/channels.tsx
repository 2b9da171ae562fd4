// Admin channel list: search, test one or all (response time), balances, priority/weight inline, enable/disable, delete.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, toast } from '../components/feedback';
import { Badge, Empty, Pager } from '../components/table';
import { call, del, get, put, request } from '../lib/api';
import { CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, CHANNEL_TYPES, typeName } from '../lib/channel-types';
import { balanceText, channelStatus, responseTime, type Channel } from '../lib/channels';
import { formatTime, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { Link, navigate } from '../lib/router';
import { status } from '../lib/status';
import { useStore } from '../lib/store';

function NumberCell({ value, onSave, label }: { value: number | null; onSave: (n: number) => void; label: string }) {
  const [text, setText] = useState(String(value ?? 0));
  useEffect(() => setText(String(value ?? 0)), [value]);
  const commit = () => {
    const n = Number(text);
    if (Number.isInteger(n) && n !== (value ?? 0)) onSave(n);
    else setText(String(value ?? 0));
  };
  return <input class="input input-num" aria-label={label} value={text} inputMode="numeric"
    onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)} onBlur={commit}
    onKeyDown={(e) => e.key === 'Enter' && (e.currentTarget as HTMLInputElement).blur()} />;
}

export function Channels() {
  const s = useStore(status);
  const [rows, setRows] = useState<Channel[]>([]);
  const [page, setPage] = useState(0);
  const [keyword, setKeyword] = useState('');
  const [searching, setSearching] = useState(false);
  const [loading, setLoading] = useState(true);
  const [testing, setTesting] = useState<Set<number>>(new Set());

  const load = async (p = page) => {
    setLoading(true);
    const data = searching && keyword
      ? await attempt(() => get<Channel[]>('/api/channel/search', { keyword }))
      : await attempt(() => get<Channel[]>('/api/channel/', { p }));
    setLoading(false);
    if (data) setRows(data);
  };
  useEffect(() => {
    load();
  }, [page, searching]);
  const patch = (id: number, values: Partial<Channel>) => setRows((all) => all.map((c) => (c.id === id ? { ...c, ...values } : c)));

  const search = (e: Event) => {
    e.preventDefault();
    setPage(0);
    if (searching === !!keyword) load(0);
    setSearching(!!keyword);
  };
  const test = async (channel: Channel) => {
    setTesting((x) => new Set(x).add(channel.id));
    const answer = await attempt(() => request<null>('GET', `/api/channel/test/${channel.id}`));
    setTesting((x) => {
      const next = new Set(x);
      next.delete(channel.id);
      return next;
    });
    if (!answer) return;
    const seconds = Number(answer.time ?? 0);
    if (answer.success) {
      patch(channel.id, { response_time: Math.round(seconds * 1000), test_time: Math.floor(Date.now() / 1000) });
      toast.success(t('Channel "{name}" works: {s} s', { name: channel.name, s: seconds.toFixed(2) }));
    } else {
      toast.error(t('Channel "{name}" failed: {message}', { name: channel.name, message: answer.message }));
    }
  };
  const updateBalance = async (channel: Channel) => {
    const answer = await attempt(() => request<null>('GET', `/api/channel/update_balance/${channel.id}`));
    if (!answer) return;
    if (answer.success) {
      patch(channel.id, { balance: Number(answer.balance ?? 0), balance_updated_time: Math.floor(Date.now() / 1000) });
      toast.success(t('Balance updated'));
    } else toast.error(answer.message);
  };
  const background = async (path: string, message: string) => {
    if ((await attempt(() => get(path))) !== undefined) toast.info(message);
  };
  const setField = async (channel: Channel, values: Partial<Channel>) => {
    const updated = await attempt(() => put<Channel>('/api/channel/', { id: channel.id, ...values }));
    if (updated) {
      patch(channel.id, values);
      toast.success(t('Channel updated'));
    }
  };
  const remove = async (channel: Channel) => {
    if (!(await confirmAction(t('Delete channel "{name}"?', { name: channel.name })))) return;
    if ((await attempt(() => del(`/api/channel/${channel.id}`))) !== undefined) {
      toast.success(t('Channel deleted'));
      load();
    }
  };
  const removeDisabled = async () => {
    if (!(await confirmAction(t('Delete every disabled channel (manually or automatically)?')))) return;
    const count = await attempt(() => call<number>('DELETE', '/api/channel/disabled'));
    if (count !== undefined) {
      toast.success(t('{n} channels deleted', { n: count }));
      load();
    }
  };

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Channels')}</h1>
        <div class="row wrap">
          <button class="btn btn-primary" onClick={() => navigate('/channel/add')} data-testid="add-channel">{t('Add channel')}</button>
          <button class="btn" onClick={() => background('/api/channel/test?scope=all', t('Testing every channel in the background; refresh in a moment.'))}>{t('Test all')}</button>
          <button class="btn" onClick={() => background('/api/channel/test?scope=disabled', t('Testing the disabled channels in the background.'))}>{t('Test disabled')}</button>
          <button class="btn" onClick={() => background('/api/channel/update_balance', t('Updating balances in the background.'))}>{t('Update balances')}</button>
          <button class="btn btn-danger" onClick={removeDisabled}>{t('Delete disabled')}</button>
        </div>
      </div>
      <div class="card">
        <form class="toolbar" onSubmit={search}>
          <input class="input" placeholder={t('Search by ID or name prefix')} value={keyword}
            onInput={(e) => setKeyword((e.currentTarget as HTMLInputElement).value)} />
          <button class="btn" type="submit">{t('Search')}</button>
          <button class="btn" type="button" onClick={() => load()}>{t('Refresh')}</button>
        </form>
        {rows.length === 0 ? <Empty loading={loading}>{t('No channels yet.')} <Link href="/channel/add">{t('Add one')}</Link></Empty> : (
          <div class="table-wrap">
            <table class="table" data-testid="channels-table">
              <thead>
                <tr>
                  <th>ID</th><th>{t('Name')}</th><th>{t('Group')}</th><th>{t('Type')}</th><th>{t('Status')}</th>
                  <th>{t('Response')}</th><th>{t('Used')}</th><th>{t('Balance')}</th><th>{t('Priority')}</th><th>{t('Weight')}</th><th>{t('Actions')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((c) => {
                  const st = channelStatus(c.status);
                  const rt = responseTime(c.response_time);
                  const canBalance = CHANNEL_TYPES.find((x) => x.id === c.type)?.balance;
                  return (
                    <tr key={c.id} data-channel={c.name}>
                      <td>{c.id}</td>
                      <td>{c.name}</td>
                      <td>{c.group.split(',').map((g) => <Badge key={g} tone="blue">{g}</Badge>)}</td>
                      <td>{typeName(c.type)}</td>
                      <td><Badge tone={st.tone}>{st.text}</Badge></td>
                      <td title={c.test_time ? t('Tested {time}', { time: formatTime(c.test_time) }) : ''}>
                        <Badge tone={rt.tone}><span data-testid="response-time">{rt.text}</span></Badge>
                      </td>
                      <td class="num">{renderQuota(c.used_quota, s)}</td>
                      <td>
                        {canBalance
                          ? <button class="link-btn" title={t('Click to update')} onClick={() => updateBalance(c)}>{balanceText(c.type, c.balance)}</button>
                          : <span class="muted">-</span>}
                      </td>
                      <td><NumberCell label={t('Priority')} value={c.priority} onSave={(priority) => setField(c, { priority })} /></td>
                      <td><NumberCell label={t('Weight')} value={c.weight} onSave={(weight) => setField(c, { weight })} /></td>
                      <td class="actions">
                        <button class="btn btn-small btn-primary" data-testid="test-channel" disabled={testing.has(c.id)} onClick={() => test(c)}>
                          {testing.has(c.id) ? t('Testing…') : t('Test')}
                        </button>
                        {c.status === CHANNEL_ENABLED
                          ? <button class="btn btn-small" onClick={() => setField(c, { status: CHANNEL_MANUALLY_DISABLED })}>{t('Disable')}</button>
                          : <button class="btn btn-small" onClick={() => setField(c, { status: CHANNEL_ENABLED })}>{t('Enable')}</button>}
                        <Link class="btn btn-small" href={`/channel/edit/${c.id}`}>{t('Edit')}</Link>
                        <button class="btn btn-small btn-danger" onClick={() => remove(c)}>{t('Delete')}</button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager page={page} rows={rows.length} onPage={setPage} hidden={searching} />
      </div>
    </div>
  );
}
