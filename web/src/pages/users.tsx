// Admin user list: search, sort, promote/demote, enable/disable, delete, add quota.
import { useState } from 'preact/hooks';
import { attempt, confirmAction, toast } from '../components/feedback';
import { Field } from '../components/form';
import { Modal } from '../components/modal';
import { SearchTable, useSearchList, type Column } from '../components/search-table';
import { Badge } from '../components/table';
import { post } from '../lib/api';
import { inputToQuota, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { Link, navigate } from '../lib/router';
import { isRoot, ROLE_ADMIN, ROLE_ROOT, user } from '../lib/session';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import { roleName, type User } from '../lib/users';

type Action = 'promote' | 'demote' | 'enable' | 'disable' | 'delete';

function TopUpDialog({ target, onClose, onDone }: { target: User; onClose: () => void; onDone: () => void }) {
  const s = useStore(status);
  const [amount, setAmount] = useState('');
  const [remark, setRemark] = useState('');
  const quota = inputToQuota(amount, s);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (Number.isNaN(quota) || quota <= 0) return toast.error(t('Enter a positive amount.'));
    if ((await attempt(() => post('/api/topup', { user_id: target.id, quota, remark }))) !== undefined) {
      toast.success(t('Added {amount} to {name}', { amount: renderQuota(quota, s), name: target.username }));
      onDone();
    }
  };
  return (
    <Modal title={t('Add quota to {name}', { name: target.username })} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <Field label={s.display_in_currency ? t('Amount (USD)') : t('Quota')}
          hint={!Number.isNaN(quota) ? t('= {quota} quota', { quota }) : undefined}>
          <input class="input" inputMode="decimal" value={amount} onInput={(e) => setAmount((e.currentTarget as HTMLInputElement).value)} required />
        </Field>
        <Field label={t('Remark (shown in the log)')}><input class="input" value={remark} onInput={(e) => setRemark((e.currentTarget as HTMLInputElement).value)} /></Field>
        <button class="btn btn-primary" type="submit">{t('Add quota')}</button>
      </form>
    </Modal>
  );
}

export function Users() {
  const s = useStore(status);
  const me = useStore(user);
  const list = useSearchList<User>('/api/user/', '/api/user/search');
  const [topUp, setTopUp] = useState<User | null>(null);

  const manage = async (target: User, action: Action) => {
    if (action === 'delete' && !(await confirmAction(t('Delete user {name}?', { name: target.username })))) return;
    const result = await attempt(() => post<{ role: number; status: number }>('/api/user/manage', { username: target.username, action }));
    if (result === undefined) return;
    toast.success(t('Done'));
    if (action === 'delete') list.load();
    else list.setRows((all) => all.map((u) => (u.id === target.id ? { ...u, role: result.role, status: result.status } : u)));
  };
  const actions = (u: User) => {
    const mayManage = isRoot(me) || (me?.role ?? 0) > u.role;
    return (
      <>
        {mayManage && u.role < ROLE_ROOT && (
          <>
            {isRoot(me) && u.role < ROLE_ADMIN && <button class="btn btn-small" onClick={() => manage(u, 'promote')}>{t('Promote')}</button>}
            {isRoot(me) && u.role >= ROLE_ADMIN && <button class="btn btn-small" onClick={() => manage(u, 'demote')}>{t('Demote')}</button>}
            {u.status === 1
              ? <button class="btn btn-small" onClick={() => manage(u, 'disable')}>{t('Disable')}</button>
              : <button class="btn btn-small" onClick={() => manage(u, 'enable')}>{t('Enable')}</button>}
          </>
        )}
        {mayManage && <button class="btn btn-small" onClick={() => setTopUp(u)}>{t('Add quota')}</button>}
        {mayManage && <Link class="btn btn-small" href={`/user/edit/${u.id}`}>{t('Edit')}</Link>}
        {mayManage && u.role < ROLE_ROOT && <button class="btn btn-small btn-danger" onClick={() => manage(u, 'delete')}>{t('Delete')}</button>}
      </>
    );
  };
  const columns: Column<User>[] = [
    { title: 'ID', cell: (u) => u.id },
    { title: t('Username'), cell: (u) => <>{u.username}{u.display_name && u.display_name !== u.username && <div class="muted small">{u.display_name}</div>}</> },
    { title: t('Group'), cell: (u) => <Badge tone="blue">{u.group}</Badge> },
    { title: t('Balance'), num: true, cell: (u) => renderQuota(u.quota, s) },
    { title: t('Used'), num: true, cell: (u) => renderQuota(u.used_quota, s) },
    { title: t('Requests'), num: true, cell: (u) => u.request_count },
    { title: t('Role'), cell: (u) => <Badge tone={u.role >= ROLE_ROOT ? 'orange' : u.role >= ROLE_ADMIN ? 'blue' : 'grey'}>{roleName(u.role)}</Badge> },
    { title: t('Status'), cell: (u) => <Badge tone={u.status === 1 ? 'green' : u.status === 3 ? 'grey' : 'red'}>{u.status === 1 ? t('Enabled') : u.status === 3 ? t('Deleted') : t('Disabled')}</Badge> },
    { title: t('Actions'), cellClass: 'actions', cell: actions },
  ];

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Users')}</h1>
        <button class="btn btn-primary" onClick={() => navigate('/user/add')}>{t('Add user')}</button>
      </div>
      <SearchTable list={list} columns={columns} rowKey={(u) => u.id} testId="users-table"
        rowAttrs={(u) => ({ 'data-user': u.username })} placeholder={t('Search by ID, username, display name or email')}
        orders={[['', t('Newest first')], ['quota', t('Most remaining quota')], ['used_quota', t('Most used quota')],
          ['request_count', t('Most requests')]]} />
      {topUp && <TopUpDialog target={topUp} onClose={() => setTopUp(null)} onDone={() => { setTopUp(null); list.load(); }} />}
    </div>
  );
}
