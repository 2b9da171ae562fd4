// Admin user list: search, sort, promote/demote, enable/disable, delete, add quota.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, toast } from '../components/feedback';
import { Field } from '../components/form';
import { Modal } from '../components/modal';
import { Badge, Empty, Pager } from '../components/table';
import { get, post } from '../lib/api';
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
  const [rows, setRows] = useState<User[]>([]);
  const [page, setPage] = useState(0);
  const [order, setOrder] = useState('');
  const [keyword, setKeyword] = useState('');
  const [searching, setSearching] = useState(false);
  const [loading, setLoading] = useState(true);
  const [topUp, setTopUp] = useState<User | null>(null);

  const load = async (p = page) => {
    setLoading(true);
    const data = searching && keyword
      ? await attempt(() => get<User[]>('/api/user/search', { keyword }))
      : await attempt(() => get<User[]>('/api/user/', { p, order }));
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
  const manage = async (target: User, action: Action) => {
    if (action === 'delete' && !(await confirmAction(t('Delete user {name}?', { name: target.username })))) return;
    const result = await attempt(() => post<{ role: number; status: number }>('/api/user/manage', { username: target.username, action }));
    if (result === undefined) return;
    toast.success(t('Done'));
    if (action === 'delete') load();
    else setRows((all) => all.map((u) => (u.id === target.id ? { ...u, role: result.role, status: result.status } : u)));
  };

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Users')}</h1>
        <button class="btn btn-primary" onClick={() => navigate('/user/add')}>{t('Add user')}</button>
      </div>
      <div class="card">
        <form class="toolbar" onSubmit={search}>
          <input class="input" placeholder={t('Search by ID, username, display name or email')} value={keyword}
            onInput={(e) => setKeyword((e.currentTarget as HTMLInputElement).value)} />
          <button class="btn" type="submit">{t('Search')}</button>
          <select class="input input-auto" value={order} onChange={(e) => { setOrder((e.currentTarget as HTMLSelectElement).value); setPage(0); }}>
            <option value="">{t('Newest first')}</option>
            <option value="quota">{t('Most remaining quota')}</option>
            <option value="used_quota">{t('Most used quota')}</option>
            <option value="request_count">{t('Most requests')}</option>
          </select>
        </form>
        {rows.length === 0 ? <Empty loading={loading} /> : (
          <div class="table-wrap">
            <table class="table" data-testid="users-table">
              <thead>
                <tr>
                  <th>ID</th><th>{t('Username')}</th><th>{t('Group')}</th><th class="num">{t('Balance')}</th><th class="num">{t('Used')}</th>
                  <th class="num">{t('Requests')}</th><th>{t('Role')}</th><th>{t('Status')}</th><th>{t('Actions')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((u) => {
                  const mayManage = isRoot(me) || (me?.role ?? 0) > u.role;
                  return (
                    <tr key={u.id} data-user={u.username}>
                      <td>{u.id}</td>
                      <td>{u.username}{u.display_name && u.display_name !== u.username && <div class="muted small">{u.display_name}</div>}</td>
                      <td><Badge tone="blue">{u.group}</Badge></td>
                      <td class="num">{renderQuota(u.quota, s)}</td>
                      <td class="num">{renderQuota(u.used_quota, s)}</td>
                      <td class="num">{u.request_count}</td>
                      <td><Badge tone={u.role >= ROLE_ROOT ? 'orange' : u.role >= ROLE_ADMIN ? 'blue' : 'grey'}>{roleName(u.role)}</Badge></td>
                      <td><Badge tone={u.status === 1 ? 'green' : u.status === 3 ? 'grey' : 'red'}>{u.status === 1 ? t('Enabled') : u.status === 3 ? t('Deleted') : t('Disabled')}</Badge></td>
                      <td class="actions">
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
      {topUp && <TopUpDialog target={topUp} onClose={() => setTopUp(null)} onDone={() => { setTopUp(null); load(); }} />}
    </div>
  );
}
