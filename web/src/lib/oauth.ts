// Where the OAuth buttons send the browser; the provider comes back to /oauth/<name>?code=&state=.
import { get } from './api';
import { serverAddress, type Status } from './status';

export type Provider = 'github' | 'lark' | 'oidc';

export function authorizeUrl(provider: Provider, s: Status, state: string, origin: string): string {
  const back = encodeURIComponent(`${serverAddress(s) || origin}/oauth/${provider}`);
  const st = encodeURIComponent(state);
  if (provider === 'github') {
    return `https://github.com/login/oauth/authorize?client_id=${encodeURIComponent(s.github_client_id)}&state=${st}&scope=user:email`;
  }
  if (provider === 'lark') {
    return `https://accounts.feishu.cn/open-apis/authen/v1/authorize?client_id=${encodeURIComponent(s.lark_client_id)}&redirect_uri=${back}&state=${st}`;
  }
  const endpoint = s.oidc_authorization_endpoint;
  const sep = endpoint.includes('?') ? '&' : '?';
  return `${endpoint}${sep}client_id=${encodeURIComponent(s.oidc_client_id)}&redirect_uri=${back}&response_type=code&scope=${encodeURIComponent('openid profile email')}&state=${st}`;
}

/** Asks the server for a state (kept in the session), then leaves for the provider. */
export async function startOAuth(provider: Provider, s: Status): Promise<void> {
  const state = await get<string>('/api/oauth/state');
  window.location.href = authorizeUrl(provider, s, state, window.location.origin);
}
