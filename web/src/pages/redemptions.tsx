// Admin redemption codes: list, search, export as text, copy, enable/disable, edit, delete.
import { useState } from 'preact/hooks';
import { attempt, confirmAction, copyText, toast } from '../components/feedback';
import { KeysDialog } from '../components/keys-dialog';
import { SearchTable, useSearchList, type Column } from '../components/search-table';
import { Badge } from '../components/table';
import { del, getText, put, withQuery } from '../lib/api';
import { formatTime, renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { Link, navigate } from '../lib/router';
import { redemptionStatus, type Redemption } from '../lib/redemptions';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import { splitList } from '../lib/validate';

export function Redemptions() {
  const s = useStore(status);
  const list = useSearchList<Redemption>('/api/redemption/', '/api/redemption/search');
  const [exported, setExported] = useState<string[] | null>(null);

  const exportUnused = async () => {
    const text = await attempt(() => getText('/api/redemption/export', { keyword: list.searching ? list.keyword : '', status: 1 }));
    if (text !== undefined) setExported(splitList(text));
  };
  const setStatus = async (code: Redemption, next: number) => {
    if ((await attempt(() => put(withQuery('/api/redemption/', { status_only: 'true' }), { id: code.id, status: next }))) !== undefined) {
      list.setRows((all) => all.map((x) => (x.id === code.id ? { ...x, status: next } : x)));
      toast.success(next === 1 ? t('Code enabled') : t('Code disabled'));
    }
  };
  const remove = async (code: Redemption) => {
    if (!(await confirmAction(t('Delete code "{name}" #{id}?', { name: code.name, id: code.id })))) return;
    if ((await attempt(() => del(`/api/redemption/${code.id}`))) !== undefined) {
      toast.success(t('Code deleted'));
      list.load();
    }
  };
  const columns: Column<Redemption>[] = [
    { title: 'ID', cell: (code) => code.id },
    { title: t('Name'), cell: (code) => code.name },
    { title: t('Status'), cell: (code) => { const st = redemptionStatus(code.status); return <Badge tone={st.tone}>{st.text}</Badge>; } },
    { title: t('Quota'), num: true, cell: (code) => renderQuota(code.quota, s) },
    { title: t('Created'), cell: (code) => formatTime(code.created_time) },
    { title: t('Redeemed'), cell: (code) => formatTime(code.redeemed_time) },
    {
      title: t('Actions'), cellClass: 'actions', cell: (code) => (
        <>
          <button class="btn btn-small btn-primary" onClick={() => copyText(code.key, t('Code'))}>{t('Copy')}</button>
          {code.status === 1 && <button class="btn btn-small" onClick={() => setStatus(code, 2)}>{t('Disable')}</button>}
          {code.status === 2 && <button class="btn btn-small" onClick={() => setStatus(code, 1)}>{t('Enable')}</button>}
          {code.status !== 3 && <Link class="btn btn-small" href={`/redemption/edit/${code.id}`}>{t('Edit')}</Link>}
          <button class="btn btn-small btn-danger" onClick={() => remove(code)}>{t('Delete')}</button>
        </>
      ),
    },
  ];

  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Redemption codes')}</h1>
        <div class="row">
          <button class="btn btn-primary" onClick={() => navigate('/redemption/add')} data-testid="add-codes">{t('Create codes')}</button>
          <button class="btn" onClick={exportUnused}>{t('Export unused')}</button>
        </div>
      </div>
      <SearchTable list={list} columns={columns} rowKey={(code) => code.id} testId="codes-table"
        placeholder={t('Search by ID or name prefix')}
        empty={<>{t('No codes yet.')} <Link href="/redemption/add">{t('Create some')}</Link></>} />
      {exported && <KeysDialog title={t('Unused codes')} keys={exported} fileName="redemption-codes.txt" onClose={() => setExported(null)} />}
    </div>
  );
}
