import { describe, expect, it } from 'vitest';
import { match } from './router';
import { chatTargets } from './tokens';
import { topUpUrl } from './topup';
import { authorizeUrl } from './oauth';
import { DEFAULT_STATUS } from './status';

describe('chat deep links', () => {
  it('puts ChatLink first with the key and server in NextChat settings', () => {
    const [first, ...rest] = chatTargets('abc', 'https://gw.example', 'https://chat.example/');
    expect(first.name).toBe('ChatLink');
    const settings = JSON.parse(decodeURIComponent(first.url.split('settings=')[1]));
    expect(settings).toEqual({ key: 'sk-abc', url: 'https://gw.example' });
    expect(rest.map((x) => x.name)).toEqual(['NextChat', 'AMA', 'OpenCat', 'LobeChat']);
    expect(rest[1].url).toBe('ama://set-api-key?server=https%3A%2F%2Fgw.example&key=sk-abc');
  });
  it('leaves ChatLink out when unset', () => {
    expect(chatTargets('abc', 'https://gw', '')[0].name).toBe('NextChat');
  });
});

it('adds One API\'s query parameters to the top-up link', () => {
  const url = new URL(topUpUrl('https://pay.example/buy?plan=1', 'alice', 7, 'tx-1'));
  expect(url.searchParams.get('plan')).toBe('1');
  expect(url.searchParams.get('username')).toBe('alice');
  expect(url.searchParams.get('user_id')).toBe('7');
  expect(url.searchParams.get('transaction_id')).toBe('tx-1');
});

it('builds provider authorize URLs that come back to /oauth/<name>', () => {
  const s = { ...DEFAULT_STATUS, server_address: 'https://gw.example', github_client_id: 'gh', oidc_client_id: 'oc',
    oidc_authorization_endpoint: 'https://idp.example/auth' };
  expect(authorizeUrl('github', s, 'st', '')).toBe('https://github.com/login/oauth/authorize?client_id=gh&state=st&scope=user:email');
  const oidc = new URL(authorizeUrl('oidc', s, 'st', ''));
  expect(oidc.searchParams.get('redirect_uri')).toBe('https://gw.example/oauth/oidc');
  expect(oidc.searchParams.get('response_type')).toBe('code');
});

it('matches route patterns with params', () => {
  expect(match('/token/edit/:id', '/token/edit/12')).toEqual({ id: '12' });
  expect(match('/token/edit/:id', '/token/edit')).toBeNull();
  expect(match('/', '/')).toEqual({});
  expect(match('/user/reset', '/user/reset/')).toEqual({});
});
