// GET /api/status: branding, login methods, links and the quota display unit; kept in localStorage for the first paint.
import { get } from './api';
import { createStore } from './store';

export interface Status {
  version: string;
  start_time: number;
  email_verification: boolean;
  github_oauth: boolean;
  github_client_id: string;
  lark_client_id: string;
  system_name: string;
  logo: string;
  footer_html: string;
  wechat_qrcode: string;
  wechat_login: boolean;
  server_address: string;
  turnstile_check: boolean;
  turnstile_site_key: string;
  top_up_link: string;
  chat_link: string;
  quota_per_unit: number;
  display_in_currency: boolean;
  oidc: boolean;
  oidc_client_id: string;
  oidc_well_known: string;
  oidc_authorization_endpoint: string;
  oidc_token_endpoint: string;
  oidc_userinfo_endpoint: string;
  /** root lets visitors who are not logged in see the price page (option PublicPricingEnabled) */
  public_pricing: boolean;
}

export const DEFAULT_STATUS: Status = {
  version: '', start_time: 0, email_verification: false, github_oauth: false, github_client_id: '',
  lark_client_id: '', system_name: 'One API', logo: '', footer_html: '', wechat_qrcode: '', wechat_login: false,
  server_address: '', turnstile_check: false, turnstile_site_key: '', top_up_link: '', chat_link: '',
  quota_per_unit: 500000, display_in_currency: true, oidc: false, oidc_client_id: '', oidc_well_known: '',
  oidc_authorization_endpoint: '', oidc_token_endpoint: '', oidc_userinfo_endpoint: '', public_pricing: false,
};

const KEY = 'status';

function cached(): Status {
  try {
    return { ...DEFAULT_STATUS, ...JSON.parse(localStorage.getItem(KEY) ?? '{}') };
  } catch {
    return DEFAULT_STATUS;
  }
}

export const status = createStore<Status>(typeof localStorage === 'undefined' ? DEFAULT_STATUS : cached());

export async function loadStatus(): Promise<void> {
  const data = await get<Status>('/api/status');
  localStorage.setItem(KEY, JSON.stringify(data));
  status.set({ ...DEFAULT_STATUS, ...data });
}

/** The address users reach the gateway at: the ServerAddress option, else this page's origin. */
export function serverAddress(s: Status): string {
  return (s.server_address || window.location.origin).replace(/\/+$/, '');
}
