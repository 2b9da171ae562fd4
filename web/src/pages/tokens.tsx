// The user's API tokens: search, sort, copy the key, open it in a chat client, enable/disable, edit, delete.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, copyText, toast } from '../components/feedback';
import { Badge, Empty, Pager } from '../components/table';
import { del, get, put, withQuery } from '../lib/api';
import { formatTime, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { Link, navigate } from '../lib/router';
import { serverAddress, status } from '../lib/status';
import { useStore } from '../lib/store';
import { chatTargets, TOKEN_DISABLED, TOKEN_ENABLED, tokenStatus, type Token } from '../lib/tokens';

function ChatMenu({ token }: { token: Token }) {
  const s = useStore(status);
  const targets = chatTargets(token.key, serverAddress(s), s.chat_link);
  return (
    <details class="menu">
      <summary class="btn btn-small">{t('Chat')}</summary>
      <div class="menu-list">
        {targets.map((x) => (
          <a key={x.name} href={x.url} target="_blank" rel="noopener noreferrer">{x.name}</a>
        ))}
      </div>
    </details>
  );
}

export function Tokens() {
  const s = useStore(status);
  const [rows, setRows] = useState<Token[]>([]);
  const [page, setPage] = useState(0);
  const [order, setOrder] = useState('');
  const [keyword, setKeyword] = useState('');
  const [searching, setSearching] = useState(false);
  const [loading, setLoading] = useState(true);

  const load = async (p = page) => {
    setLoading(true);
    const data = searching && keyword
      ? await attempt(() => get<Token[]>('/api/token/search', { keyword }))
      : await attempt(() => get<Token[]>('/api/token/', { p, order }));
    setLoading(false);
    if (data) setRows(data);
  };
  useEffect(() => {
    load();
  }, [page, order, searching]);

  const search = (e: Event) => {
    e.preventDefault();
    setPage(0);
    if (searching === !!keyword) load(0);
    setSearching(!!keyword);
  };
  const setStatus = async (token: Token, next: number) => {
    const done = await attempt(() => put(withQuery('/api/token/', { status_only: 'true' }), { id: token.id, status: next }));
    if (done !== undefined) {
      toast.success(next === TOKEN_ENABLED ? t('Token enabled') : t('Token disabled'));
      load();
    }
  };
  const remove = async (token: Token) => {
    if (!(await confirmAction(t('Delete token "{name}"? Clients using it stop working.', { name: token.name })))) return;
    if ((await attempt(() => del(`/api/token/${token.id}`))) !== undefined) {
      toast.success(t('Token deleted'));
      load();
    }
  };

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Tokens')}</h1>
        <button class="btn btn-primary" onClick={() => navigate('/token/add')} data-testid="add-token">{t('Add token')}</button>
      </div>
      <div class="card">
        <form class="toolbar" onSubmit={search}>
          <input class="input" placeholder={t('Search by name prefix')} value={keyword}
            onInput={(e) => setKeyword((e.currentTarget as HTMLInputElement).value)} />
          <button class="btn" type="submit">{t('Search')}</button>
          <select class="input input-auto" value={order} onChange={(e) => { setOrder((e.currentTarget as HTMLSelectElement).value); setPage(0); }}>
            <option value="">{t('Newest first')}</option>
            <option value="remain_quota">{t('Most remaining quota')}</option>
            <option value="used_quota">{t('Most used quota')}</option>
          </select>
        </form>
        {rows.length === 0 ? (
          <Empty loading={loading}>{t('No tokens yet.')} <Link href="/token/add">{t('Create one')}</Link></Empty>
        ) : (
          <div class="table-wrap">
            <table class="table" data-testid="tokens-table">
              <thead>
                <tr>
                  <th>{t('Name')}</th><th>{t('Status')}</th><th class="num">{t('Used')}</th><th class="num">{t('Remaining')}</th>
                  <th>{t('Created')}</th><th>{t('Expires')}</th><th>{t('Actions')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((token) => {
                  const st = tokenStatus(token.status);
                  return (
                    <tr key={token.id} data-token={token.name}>
                      <td>{token.name || t('(unnamed)')}</td>
                      <td><Badge tone={st.tone}>{st.text}</Badge></td>
                      <td class="num">{renderQuota(token.used_quota, s)}</td>
                      <td class="num">{token.unlimited_quota ? t('Unlimited') : renderQuota(token.remain_quota, s)}</td>
                      <td>{formatTime(token.created_time)}</td>
                      <td>{token.expired_time === -1 ? t('Never') : formatTime(token.expired_time)}</td>
                      <td class="actions">
                        <button class="btn btn-small btn-primary" data-testid="copy-key" onClick={() => copyText(`sk-${token.key}`, t('Key'))}>{t('Copy')}</button>
                        <ChatMenu token={token} />
                        {token.status === TOKEN_ENABLED
                          ? <button class="btn btn-small" onClick={() => setStatus(token, TOKEN_DISABLED)}>{t('Disable')}</button>
                          : <button class="btn btn-small" onClick={() => setStatus(token, TOKEN_ENABLED)}>{t('Enable')}</button>}
                        <Link class="btn btn-small" href={`/token/edit/${token.id}`}>{t('Edit')}</Link>
                        <button class="btn btn-small btn-danger" onClick={() => remove(token)}>{t('Delete')}</button>
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
