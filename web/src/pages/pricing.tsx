// /pricing: every model the caller's group can use with each part's price (GET /api/pricing, #16).
// Open to visitors when root turns on PublicPricingEnabled; logged-in users always see their group's prices.
import { useEffect, useState } from 'preact/hooks';
import { Empty } from '../components/table';
import { ApiError, get } from '../lib/api';
import { t } from '../lib/i18n';
import { Link } from '../lib/router';
import { filterModels, PRICE_COLUMNS, tierText, usd, type ModelPrice, type Pricing as PriceList } from '../lib/pricing';

function PartCell({ model, part }: { model: ModelPrice; part: string }) {
  const p = model.parts[part];
  if (!p) return <>—</>;
  const title = `${p.quota_per_token} ${t('quota per token')}`;
  return p.own
    ? <span title={title}>{usd(p.usd_per_mtok)}</span>
    : <span class="muted" title={`${title} · ${t('No price of its own: billed at this price')}`}>{usd(p.usd_per_mtok)}*</span>;
}

export function Pricing() {
  const [data, setData] = useState<PriceList | null>(null);
  const [problem, setProblem] = useState('');
  const [query, setQuery] = useState('');
  useEffect(() => {
    get<PriceList>('/api/pricing').then(setData).catch((e: unknown) => {
      setProblem(e instanceof ApiError && e.message === 'not logged in' ? 'login' : String((e as Error).message));
    });
  }, []);
  if (problem === 'login') {
    return <div class="card"><h2>{t('Pricing')}</h2><p>{t('Log in to see the prices.')} <Link href="/login?from=%2Fpricing">{t('Log in')}</Link></p></div>;
  }
  if (problem) return <div class="card"><h2>{t('Pricing')}</h2><p>{problem}</p></div>;
  const models = data ? filterModels(data.models, query) : [];
  return (
    <div class="stack">
      <div class="row between wrap">
        <h1 class="page-title">{t('Pricing')}</h1>
        {data && <span class="muted" data-testid="pricing-group">{t('Group {group}, ratio {ratio}', { group: data.group, ratio: data.group_ratio })}</span>}
      </div>
      <div class="card">
        <div class="toolbar">
          <input class="input" placeholder={t('Search models')} value={query} data-testid="pricing-search"
            onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <p class="muted">{t('USD per 1M tokens at your group ratio. * no price of its own: billed at the price shown.')}</p>
        {models.length === 0 ? <Empty loading={!data}>{t('No models.')}</Empty> : (
          <div class="table-wrap">
            <table class="table" data-testid="pricing-table">
              <thead>
                <tr>
                  <th>{t('Model')}</th>
                  {PRICE_COLUMNS.map(([key, title]) => <th key={key} class="num">{t(title)}</th>)}
                  <th>{t('Long context')}</th>
                </tr>
              </thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.model} data-model={m.model}>
                    <td>{m.model}{!m.priced && <span class="muted" title={t('No price set: the fallback ratio applies')}> ?</span>}</td>
                    {PRICE_COLUMNS.map(([key]) => <td key={key} class="num"><PartCell model={m} part={key} /></td>)}
                    <td>{tierText(m.tiers)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </div>
  );
}
