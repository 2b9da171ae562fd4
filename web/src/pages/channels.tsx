// Admin channel list: search, test one or all (response time), balances, priority/weight inline, enable/disable, delete.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, toast } from '../components/feedback';
import { SearchTable, useSearchList, type Column } from '../components/search-table';
import { Badge } from '../components/table';
import { call, del, get, put, request } from '../lib/api';
import { CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, typeName, useChannelTypes } from '../lib/channel-types';
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
  const types = useChannelTypes();
  const list = useSearchList<Channel>('/api/channel/', '/api/channel/search');
  const [testing, setTesting] = useState<Set<number>>(new Set());
  const { load } = list;
  const patch = (id: number, values: Partial<Channel>) => list.setRows((all) => all.map((c) => (c.id === id ? { ...c, ...values } : c)));
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
      patch(channel.id, { response_time: 0, test_time: Math.floor(Date.now() / 1000) });   // as the server wrote it
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
  const balanceCell = (c: Channel) => {
    const type = types.find((x) => x.id === c.type);
    return type?.balance
      ? <button class="link-btn" title={t('Click to update')} onClick={() => updateBalance(c)}>{balanceText(type.balance_currency, c.balance)}</button>
      : <span class="muted">-</span>;
  };
  const columns: Column<Channel>[] = [
    { title: 'ID', cell: (c) => c.id },
    { title: t('Name'), cell: (c) => c.name },
    { title: t('Group'), cell: (c) => c.group.split(',').map((g) => <Badge key={g} tone="blue">{g}</Badge>) },
    { title: t('Type'), cell: (c) => typeName(types, c.type) },
    { title: t('Status'), cell: (c) => { const st = channelStatus(c.status); return <Badge tone={st.tone}>{st.text}</Badge>; } },
    {
      title: t('Response'), cellTitle: (c) => (c.test_time ? t('Tested {time}', { time: formatTime(c.test_time) }) : ''),
      cell: (c) => { const rt = responseTime(c.response_time, c.test_time); return <Badge tone={rt.tone}><span data-testid="response-time">{rt.text}</span></Badge>; },
    },
    { title: t('Used'), cell: (c) => renderQuota(c.used_quota, s), cellClass: 'num' },
    { title: t('Balance'), cell: balanceCell },
    { title: t('Priority'), cell: (c) => <NumberCell label={t('Priority')} value={c.priority} onSave={(priority) => setField(c, { priority })} /> },
    { title: t('Weight'), cell: (c) => <NumberCell label={t('Weight')} value={c.weight} onSave={(weight) => setField(c, { weight })} /> },
    {
      title: t('Actions'), cellClass: 'actions', cell: (c) => (
        <>
          <button class="btn btn-small btn-primary" data-testid="test-channel" disabled={testing.has(c.id)} onClick={() => test(c)}>
            {testing.has(c.id) ? t('Testing…') : t('Test')}
          </button>
          {c.status === CHANNEL_ENABLED
            ? <button class="btn btn-small" onClick={() => setField(c, { status: CHANNEL_MANUALLY_DISABLED })}>{t('Disable')}</button>
            : <button class="btn btn-small" onClick={() => setField(c, { status: CHANNEL_ENABLED })}>{t('Enable')}</button>}
          <Link class="btn btn-small" href={`/channel/edit/${c.id}`}>{t('Edit')}</Link>
          <button class="btn btn-small btn-danger" onClick={() => remove(c)}>{t('Delete')}</button>
        </>
      ),
    },
  ];

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
      <SearchTable list={list} columns={columns} rowKey={(c) => c.id} testId="channels-table"
        rowAttrs={(c) => ({ 'data-channel': c.name })} placeholder={t('Search by ID or name prefix')}
        toolbar={<button class="btn" type="button" onClick={() => load()}>{t('Refresh')}</button>}
        empty={<>{t('No channels yet.')} <Link href="/channel/add">{t('Add one')}</Link></>} />
    </div>
  );
}
