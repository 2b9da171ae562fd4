// Admin redemption codes: list, search, export as text, copy, enable/disable, edit, delete.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, copyText, toast } from '../components/feedback';
import { KeysDialog } from '../components/keys-dialog';
import { Badge, Empty, Pager } from '../components/table';
import { del, get, getText, put, withQuery } from '../lib/api';
import { formatTime, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { Link, navigate } from '../lib/router';
import { redemptionStatus, type Redemption } from '../lib/redemptions';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import { splitList } from '../lib/validate';

export function Redemptions() {
  const s = useStore(status);
  const [rows, setRows] = useState<Redemption[]>([]);
  const [page, setPage] = useState(0);
  const [keyword, setKeyword] = useState('');
  const [searching, setSearching] = useState(false);
  const [loading, setLoading] = useState(true);
  const [exported, setExported] = useState<string[] | null>(null);

  const load = async (p = page) => {
    setLoading(true);
    const data = searching && keyword
      ? await attempt(() => get<Redemption[]>('/api/redemption/search', { keyword }))
      : await attempt(() => get<Redemption[]>('/api/redemption/', { p }));
    setLoading(false);
    if (data) setRows(data);
  };
  useEffect(() => {
    load();
  }, [page, searching]);

  const search = (e: Event) => {
    e.preventDefault();
    setPage(0);
    if (searching === !!keyword) load(0);
    setSearching(!!keyword);
  };
  const exportUnused = async () => {
    const text = await attempt(() => getText('/api/redemption/export', { keyword: searching ? keyword : '', status: 1 }));
    if (text !== undefined) setExported(splitList(text));
  };
  const setStatus = async (code: Redemption, next: number) => {
    if ((await attempt(() => put(withQuery('/api/redemption/', { status_only: 'true' }), { id: code.id, status: next }))) !== undefined) {
      setRows((all) => all.map((x) => (x.id === code.id ? { ...x, status: next } : x)));
      toast.success(next === 1 ? t('Code enabled') : t('Code disabled'));
    }
  };
  const remove = async (code: Redemption) => {
    if (!(await confirmAction(t('Delete code "{name}" #{id}?', { name: code.name, id: code.id })))) return;
    if ((await attempt(() => del(`/api/redemption/${code.id}`))) !== undefined) {
      toast.success(t('Code deleted'));
      load();
    }
  };

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Redemption codes')}</h1>
        <div class="row">
          <button class="btn btn-primary" onClick={() => navigate('/redemption/add')} data-testid="add-codes">{t('Create codes')}</button>
          <button class="btn" onClick={exportUnused}>{t('Export unused')}</button>
        </div>
      </div>
      <div class="card">
        <form class="toolbar" onSubmit={search}>
          <input class="input" placeholder={t('Search by ID or name prefix')} value={keyword} onInput={(e) => setKeyword((e.currentTarget as HTMLInputElement).value)} />
          <button class="btn" type="submit">{t('Search')}</button>
        </form>
        {rows.length === 0 ? <Empty loading={loading}>{t('No codes yet.')} <Link href="/redemption/add">{t('Create some')}</Link></Empty> : (
          <div class="table-wrap">
            <table class="table" data-testid="codes-table">
              <thead>
                <tr><th>ID</th><th>{t('Name')}</th><th>{t('Status')}</th><th class="num">{t('Quota')}</th><th>{t('Created')}</th><th>{t('Redeemed')}</th><th>{t('Actions')}</th></tr>
              </thead>
              <tbody>
                {rows.map((code) => {
                  const st = redemptionStatus(code.status);
                  return (
                    <tr key={code.id}>
                      <td>{code.id}</td>
                      <td>{code.name}</td>
                      <td><Badge tone={st.tone}>{st.text}</Badge></td>
                      <td class="num">{renderQuota(code.quota, s)}</td>
                      <td>{formatTime(code.created_time)}</td>
                      <td>{formatTime(code.redeemed_time)}</td>
                      <td class="actions">
                        <button class="btn btn-small btn-primary" onClick={() => copyText(code.key, t('Code'))}>{t('Copy')}</button>
                        {code.status === 1 && <button class="btn btn-small" onClick={() => setStatus(code, 2)}>{t('Disable')}</button>}
                        {code.status === 2 && <button class="btn btn-small" onClick={() => setStatus(code, 1)}>{t('Enable')}</button>}
                        {code.status !== 3 && <Link class="btn btn-small" href={`/redemption/edit/${code.id}`}>{t('Edit')}</Link>}
                        <button class="btn btn-small btn-danger" onClick={() => remove(code)}>{t('Delete')}</button>
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
      {exported && <KeysDialog title={t('Unused codes')} keys={exported} fileName="redemption-codes.txt" onClose={() => setExported(null)} />}
    </div>
  );
}
