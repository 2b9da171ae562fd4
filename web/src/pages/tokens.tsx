// The user's API tokens: search, sort, copy the key, open it in a chat client, enable/disable, edit, delete.
import { attempt, confirmAction, copyText, toast } from '../components/feedback';
import { SearchTable, useSearchList, type Column } from '../components/search-table';
import { BudgetsCell } from '../components/limits-fields';
import { Badge } from '../components/table';
import { del, put, withQuery } from '../lib/api';
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
  const list = useSearchList<Token>('/api/token/', '/api/token/search');

  const setStatus = async (token: Token, next: number) => {
    const done = await attempt(() => put(withQuery('/api/token/', { status_only: 'true' }), { id: token.id, status: next }));
    if (done !== undefined) {
      toast.success(next === TOKEN_ENABLED ? t('Token enabled') : t('Token disabled'));
      list.load();
    }
  };
  const remove = async (token: Token) => {
    if (!(await confirmAction(t('Delete token "{name}"? Clients using it stop working.', { name: token.name })))) return;
    if ((await attempt(() => del(`/api/token/${token.id}`))) !== undefined) {
      toast.success(t('Token deleted'));
      list.load();
    }
  };
  const columns: Column<Token>[] = [
    { title: t('Name'), cell: (token) => token.name || t('(unnamed)') },
    { title: t('Status'), cell: (token) => { const st = tokenStatus(token.status); return <Badge tone={st.tone}>{st.text}</Badge>; } },
    { title: t('Used'), num: true, cell: (token) => renderQuota(token.used_quota, s) },
    { title: t('Remaining'), num: true, cell: (token) => (token.unlimited_quota ? t('Unlimited') : renderQuota(token.remain_quota, s)) },
    { title: t('Budgets'), cell: (token) => <BudgetsCell budgets={token.budgets} unit={s} /> },
    { title: t('Created'), cell: (token) => formatTime(token.created_time) },
    { title: t('Expires'), cell: (token) => (token.expired_time === -1 ? t('Never') : formatTime(token.expired_time)) },
    {
      title: t('Actions'), cellClass: 'actions', cell: (token) => (
        <>
          <button class="btn btn-small btn-primary" data-testid="copy-key" onClick={() => copyText(`sk-${token.key}`, t('Key'))}>{t('Copy')}</button>
          <ChatMenu token={token} />
          {token.status === TOKEN_ENABLED
            ? <button class="btn btn-small" onClick={() => setStatus(token, TOKEN_DISABLED)}>{t('Disable')}</button>
            : <button class="btn btn-small" onClick={() => setStatus(token, TOKEN_ENABLED)}>{t('Enable')}</button>}
          <Link class="btn btn-small" href={`/token/edit/${token.id}`}>{t('Edit')}</Link>
          <button class="btn btn-small btn-danger" onClick={() => remove(token)}>{t('Delete')}</button>
        </>
      ),
    },
  ];

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Tokens')}</h1>
        <button class="btn btn-primary" onClick={() => navigate('/token/add')} data-testid="add-token">{t('Add token')}</button>
      </div>
      <SearchTable list={list} columns={columns} rowKey={(token) => token.id} testId="tokens-table"
        rowAttrs={(token) => ({ 'data-token': token.name })} placeholder={t('Search by name prefix')}
        orders={[['', t('Newest first')], ['remain_quota', t('Most remaining quota')], ['used_quota', t('Most used quota')]]}
        empty={<>{t('No tokens yet.')} <Link href="/token/add">{t('Create one')}</Link></>} />
    </div>
  );
}
