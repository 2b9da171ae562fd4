// Redemption codes: their shape and status names (1 unused, 2 disabled, 3 used).
import { t } from './i18n';

export interface Redemption {
  id: number;
  user_id: number;
  key: string;
  status: number;
  name: string;
  quota: number;
  created_time: number;
  redeemed_time: number;
}

export function redemptionStatus(status: number): { text: string; tone: 'green' | 'red' | 'grey' } {
  if (status === 1) return { text: t('Unused'), tone: 'green' };
  if (status === 2) return { text: t('Disabled'), tone: 'red' };
  if (status === 3) return { text: t('Used'), tone: 'grey' };
  return { text: t('Unknown'), tone: 'grey' };
}
