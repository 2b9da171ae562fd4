// The channel object of the admin API, and how its response time and balance read.
import { currencySymbol } from './channel-types';
import { t } from './i18n';

export interface Channel {
  id: number;
  type: number;
  key: string;
  status: number;
  name: string;
  weight: number | null;
  created_time: number;
  test_time: number;
  response_time: number;
  base_url: string | null;
  other: string | null;
  balance: number;
  balance_updated_time: number;
  models: string;
  group: string;
  used_quota: number;
  model_mapping: string | null;
  priority: number | null;
  config: string;
  system_prompt: string | null;
}

export function channelStatus(status: number): { text: string; tone: 'green' | 'red' | 'orange' | 'grey' } {
  if (status === 1) return { text: t('Enabled'), tone: 'green' };
  if (status === 2) return { text: t('Disabled'), tone: 'red' };
  if (status === 3) return { text: t('Auto-disabled'), tone: 'orange' };
  return { text: t('Unknown'), tone: 'grey' };
}

/** Response time (ms) as seconds with a colour: green under 1 s, orange under 3 s, else red; grey untested.
 *  A test that failed writes response time 0 with its test time (as One API does): red "failed". */
export function responseTime(ms: number, testTime = 0): { text: string; tone: 'green' | 'orange' | 'red' | 'grey' } {
  if (!ms) return testTime ? { text: t('failed'), tone: 'red' } : { text: t('untested'), tone: 'grey' };
  const tone = ms < 1000 ? 'green' : ms < 3000 ? 'orange' : 'red';
  return { text: `${(ms / 1000).toFixed(2)} s`, tone };
}

/** A balance in its currency (the type's `balance_currency` from GET /api/channel/types). */
export function balanceText(currency: string, balance: number): string {
  return `${currencySymbol(currency)}${balance.toFixed(2)}`;
}
